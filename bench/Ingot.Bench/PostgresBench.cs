using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Postgres.Destination;
using Ingot.Sources;
using Npgsql;
using Record = Ingot.Records.Record;

namespace Ingot.Bench;

/// <summary>
/// Records → PostgreSQL JSONB bronze. Ingot: the <c>postgres</c> destination landing units of 20k records (pages of 5k)
/// on two concurrent landers, as the engine does — hashing, provenance, partitions made on demand, binary COPY, the
/// unit table. Anchor: <c>psql \copy … FROM</c> of exactly the same rows (a CSV exported from Ingot's table: the jsonb
/// column and all the others) into an identical table (same DDL, partitions and indexes, made beforehand) in the same
/// run, on the same throwaway server. Repeated; min–median–max of each.
/// </summary>
internal static class PostgresBench
{
    private const string Columns = "source, raw_data, ingested_at, source_timestamp, raw_id, validation_status, error_message, metadata, environment, "
        + "pipeline_run_id, pipeline_version, _stream, _source_system, _chunk_key, _record_hash, partition_key";

    public static async Task<int> RunAsync(string[] args)
    {
        var rows = (int)Long(args, "--rows", 200_000);
        var reps = (int)Long(args, "--reps", 3);
        const int unitRecords = 20_000, pageRecords = 5_000;
        await using var server = await Server.StartAsync();
        var records = Generate(rows);
        Console.WriteLine($"PostgreSQL {server.Version}, {Environment.ProcessorCount} cores, {rows:N0} records ({records.Sum(r => (long)r.Json.Length) / 1e6:N1} MB of JSON) over 12 months, "
            + $"units of {unitRecords:N0}, {reps} repetitions");
        var ingot = new List<double>();
        var copy = new List<double>();
        var csv = Path.Combine(server.Root, "rows.csv");
        for (var rep = 0; rep < reps; rep++)
        {
            // Ingot into a fresh database
            var db = await server.CreateDatabaseAsync($"ingot_{rep}");
            var spec = PipelineLoader.Parse($"""
                name: bench
                source:
                  type: files
                  path: /nonexistent
                  stream: bench
                destinations:
                  - type: postgres
                    connection: "{db}"
                """, "bench.yaml", _ => null, ConnectorRegistry.Core.With(new PostgresDestinationConnector()));
            await using (var destination = new PostgresDestinationConnector().Create(spec.Destinations[0], new DestinationServices(spec, TimeProvider.System, ConnectorRegistry.Core.Stores)))
            {
                var run = new RunContext(Guid.NewGuid(), "bench", DateTimeOffset.UtcNow);
                var sw = Stopwatch.StartNew();
                await destination.PrepareAsync(run, CancellationToken.None);
                var units = Enumerable.Range(0, (rows + unitRecords - 1) / unitRecords).ToList();
                var next = -1;
                await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
                {
                    for (int u; (u = Interlocked.Increment(ref next)) < units.Count;)
                    {
                        var unit = new WorkUnit($"bench-{u:D5}", "bench", "files", "noaa-cdo", new CursorBounds(u.ToString(CultureInfo.InvariantCulture), null), UnitIdentity.Of(("bench", "1")));
                        await using var writer = await destination.BeginAsync(run, unit, NoJournal.Instance, CancellationToken.None);
                        var slice = records.Skip(u * unitRecords).Take(unitRecords).ToList();
                        for (var p = 0; p < slice.Count; p += pageRecords)
                        {
                            var page = slice.Skip(p).Take(pageRecords).Select(r => Record.FromUtf8(r.Json, r.EventTs)).ToList();
                            await writer.WriteAsync(new FetchedPage($"{unit.Key}-p{p / pageRecords}", ReadOnlyMemory<byte>.Empty, "GET https://sim/cdo/v2/data?offset=1", 200, run.IngestedAt, page), CancellationToken.None);
                        }
                        await writer.CompleteAsync(new UnitTotals(slice.Count, 0, (slice.Count + pageRecords - 1) / pageRecords, 0), CancellationToken.None);
                    }
                })));
                ingot.Add(sw.Elapsed.TotalSeconds);
            }
            await server.PsqlAsync(db, $"\\copy (SELECT {Columns} FROM bronze_bench) TO '{csv}' CSV");

            // \copy into an identical table made beforehand (DDL, partitions and indexes as Ingot makes them)
            var anchor = await server.CreateDatabaseAsync($"copy_{rep}");
            var ddl = Path.Combine(server.Root, "ddl.sql");
            await server.RunAsync("pg_dump", "--schema-only", "-t", "bronze_bench*", "-f", ddl, db);
            await server.PsqlAsync(anchor, "", "-f", ddl);
            var watch = Stopwatch.StartNew();
            await server.PsqlAsync(anchor, $"\\copy bronze_bench ({Columns}) FROM '{csv}' CSV");
            copy.Add(watch.Elapsed.TotalSeconds);
            var counts = await server.QueryAsync(anchor, "SELECT count(*) FROM bronze_bench") + "/" + await server.QueryAsync(db, "SELECT count(*) FROM bronze_bench");
            if (counts != $"{rows}/{rows}") throw new InvalidOperationException($"row counts differ: {counts}");
            Console.WriteLine($"  rep {rep + 1}: ingot {ingot[^1],6:N2} s   \\copy {copy[^1],6:N2} s   ({rows / ingot[^1]:N0} vs {rows / copy[^1]:N0} rows/s)");
            await server.DropAsync(db);
            await server.DropAsync(anchor);
        }
        static string Spread(List<double> s) { var o = s.Order().ToList(); return $"{o[0]:N2} – {o[o.Count / 2]:N2} – {o[^1]:N2} s"; }
        var ratio = copy.Order().ElementAt(copy.Count / 2) / ingot.Order().ElementAt(ingot.Count / 2);
        Console.WriteLine();
        Console.WriteLine($"ingot   min–median–max {Spread(ingot)}");
        Console.WriteLine($"\\copy   min–median–max {Spread(copy)}");
        Console.WriteLine($"ingot throughput / \\copy throughput (medians): {ratio:N2}x (goal >= 0.9x)");
        return 0;
    }

    private sealed record Input(byte[] Json, DateTimeOffset EventTs);

    /// <summary>NOAA-like observations spread evenly over 2023 (twelve partitions).</summary>
    private static List<Input> Generate(int rows)
    {
        var random = new Random(7);
        var start = new DateTimeOffset(2023, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var span = TimeSpan.FromDays(365).Ticks;
        var list = new List<Input>(rows);
        var buffer = new ArrayBufferWriter<byte>(256);
        for (var i = 0; i < rows; i++)
        {
            var ts = start.AddTicks(span / rows * i);
            buffer.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("station", $"GHCND:US{random.Next(100_000, 999_999)}");
                w.WriteString("date", ts.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
                w.WriteString("datatype", random.Next(3) == 0 ? "QPCP" : "QGAG");
                w.WriteString("attributes", random.Next(2) == 0 ? ",,C," : "g,,HI,");
                w.WriteNumber("value", random.Next(10) == 0 ? random.Next(0, 2500) : 0);
                w.WriteEndObject();
            }
            list.Add(new Input(buffer.WrittenSpan.ToArray(), ts));
        }
        return list;
    }

    private static long Long(string[] args, string name, long fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? long.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private sealed class NoJournal : IFileJournal
    {
        public static readonly NoJournal Instance = new();
        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A throwaway cluster (notes/recipes.md): initdb, pg_ctl on a free loopback port, trusted, fsync off like the tests'.</summary>
    private sealed class Server : IAsyncDisposable
    {
        private readonly string _bin;
        private int _port;

        private Server(string bin, string root)
        {
            _bin = bin;
            Root = root;
        }

        public string Root { get; }
        public string Version { get; private set; } = "";

        public static async Task<Server> StartAsync()
        {
            var bin = Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d, StringComparer.Ordinal).Select(d => Path.Combine(d, "bin")).First(d => File.Exists(Path.Combine(d, "initdb")));
            var server = new Server(bin, Directory.CreateTempSubdirectory("ingot-bench-pg-").FullName);
            if (Environment.UserName == "root") await Exec("chown", "postgres:postgres", server.Root);
            await server.RunAsync("initdb", "-D", Path.Combine(server.Root, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C");
            using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); server._port = ((IPEndPoint)l.LocalEndpoint).Port; }
            await server.RunAsync("pg_ctl", "-D", Path.Combine(server.Root, "data"), "-l", Path.Combine(server.Root, "server.log"), "-w", "-t", "30",
                "-o", $"-p {server._port} -k {server.Root} -c listen_addresses=127.0.0.1 -c fsync=off", "start");
            server.Version = await server.QueryAsync(server.ConnectionString("postgres"), "SHOW server_version");
            return server;
        }

        private string ConnectionString(string database) => $"Host=127.0.0.1;Port={_port};Username=postgres;Database={database};Pooling=true";

        public async Task<string> CreateDatabaseAsync(string name)
        {
            await QueryAsync(ConnectionString("postgres"), $"CREATE DATABASE {name}");
            return ConnectionString(name);
        }

        public Task DropAsync(string connectionString)
        {
            var db = new NpgsqlConnectionStringBuilder(connectionString).Database!;
            NpgsqlConnection.ClearAllPools();
            return QueryAsync(ConnectionString("postgres"), $"DROP DATABASE {db}");
        }

        public async Task<string> QueryAsync(string connectionString, string sql)
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand(sql, c);
            return Convert.ToString(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture) ?? "";
        }

        public Task PsqlAsync(string connectionString, string command, params string[] more)
        {
            var db = new NpgsqlConnectionStringBuilder(connectionString).Database!;
            string[] args = ["-h", "127.0.0.1", "-p", _port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", db, "-q", "-v", "ON_ERROR_STOP=1", .. command.Length > 0 ? ["-c", command] : Array.Empty<string>(), .. more];
            return Exec("psql", args);
        }

        public Task RunAsync(string tool, params string[] args) =>
            tool == "pg_dump"
                ? Exec("pg_dump", ["-h", "127.0.0.1", "-p", _port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", .. args[..^1], "-d", new NpgsqlConnectionStringBuilder(args[^1]).Database!])
                : Environment.UserName == "root" ? Exec("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args]) : Exec(Path.Combine(_bin, tool), args);

        private static async Task Exec(string file, params string[] args)
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {await err}{await output}");
        }

        public async ValueTask DisposeAsync()
        {
            NpgsqlConnection.ClearAllPools();
            try { await RunAsync("pg_ctl", "-D", Path.Combine(Root, "data"), "-m", "immediate", "-w", "stop"); } catch (InvalidOperationException) { }
            try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
        }
    }
}
