using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ingot.DuckDb;
using Npgsql;

namespace Ingot.Bench;

/// <summary>
/// A PostgreSQL <c>orders</c> table → bronze Parquet on local disk. Ingot: <c>ingot run</c> (a full load of the table in
/// keyset pages) as users run it — the published ReadyToRun build (<c>--ingot</c>, by default <c>.build/ingot/ingot.dll</c>
/// from <c>scripts/quickstart.sh</c>; the plain build output JITs every method it runs, ~0.8 s more here) with the
/// connection pooled as Npgsql does by default. The anchor is what a user could script instead, timed in the same run:
/// <c>psql \copy (SELECT … ORDER BY updated_at, order_id) TO file.csv</c> and then DuckDB
/// <c>COPY (FROM read_csv('file.csv')) TO 'x.parquet'</c> (through the project's own DuckDB). Both on a throwaway cluster
/// started here; each measured several times, alternating, reported as min–median–max; Ingot's peak RSS is its VmHWM.
/// Two floors show what the libraries themselves cost (<see cref="PostgresFloor"/>): the plain copy, and the copy with the
/// bronze row's hash and metadata columns — so the gap between Ingot and them is the engine's own.
/// </summary>
internal static class PostgresSourceBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rows = ParquetBench.LongOption(args, "--rows", 1_000_000);
        var repeats = (int)ParquetBench.LongOption(args, "--repeats", 3);
        var pageSize = ParquetBench.LongOption(args, "--page-size", 10_000);
        // Page queries in flight (ingot run --concurrency): on 2 cores the server and Ingot share the CPU, and two pages
        // at a time keep both busy (8, the HTTP default, measured slower: the page queries crowd out the landers).
        var concurrency = ParquetBench.LongOption(args, "--concurrency", 2);
        var ingotDll = ParquetBench.Option(args, "--ingot") ?? PublishedIngot() ?? Path.Combine(AppContext.BaseDirectory, "ingot.dll");
        if (!File.Exists(ingotDll)) throw new InvalidOperationException($"{ingotDll} is missing: build the solution first");
        // Another build of ingot, run beside the first in every repeat (alternating, same minute, same cluster): the way to
        // tell a change's effect from the machine's drift, which on a shared 2-core box is larger than most changes.
        var baselineDll = ParquetBench.Option(args, "--baseline");
        if (baselineDll is not null && !File.Exists(baselineDll)) throw new InvalidOperationException($"--baseline {baselineDll} is missing");
        Console.WriteLine($"ingot: {ingotDll}{(ingotDll.StartsWith(AppContext.BaseDirectory, StringComparison.Ordinal) ? " (the build output, not ReadyToRun: slower than users' ingot; publish with scripts/quickstart.sh)" : "")}");
        var work = Directory.CreateTempSubdirectory("ingot-bench-pg-").FullName;
        await using var cluster = await Cluster.StartAsync();
        try
        {
            var cs = cluster.ConnectionString;
            var sw = Stopwatch.StartNew();
            await CreateOrdersAsync(cs, rows);
            Console.WriteLine($"PostgreSQL {cluster.Version}, DuckDB {DuckDbSession.LibraryVersion}, {Environment.ProcessorCount} cores; orders: {rows:N0} rows (made in {sw.Elapsed.TotalSeconds:N1} s), page_size {pageSize:N0}, concurrency {concurrency}");
            Console.WriteLine();
            Console.WriteLine($"{"run",4} {"engine",-18} {"seconds",8} {"rows/s",12} {"peak RSS MB",12} {"output MB",10} {"machine CPU-s",14}");
            var loadAtStart = ParquetBench.LoadAverage();
            var ingot = new List<Measured>();
            var script = new List<Measured>();
            var bronze = new List<Measured>();
            var baseline = new List<Measured>();
            var floor = new List<Measured>();
            var floorBronze = new List<Measured>();
            void Line(int run, string engine, Measured m, string dir) =>
                Console.WriteLine($"{run,4} {engine,-18} {m.Seconds,8:N2} {rows / m.Seconds,12:N0} {m.Rss / 1048576.0,12:N0} {DirMb(dir),10:N1} {m.MachineCpu,14:N2}");
            long agree = 0;
            for (var i = 1; i <= repeats; i++)
            {
                async Task Measure(List<Measured> into, string engine, string dir, Func<string, Task<Measured>> run)
                {
                    var m = await run(Path.Combine(work, $"{dir}-{i}"));
                    into.Add(m);
                    Line(i, engine, m, Path.Combine(work, $"{dir}-{i}"));
                }
                await Measure(script, "psql+duckdb", "script", d => ScriptAsync(cs, d, sameJob: false));
                await Measure(bronze, "psql+duckdb-bronze", "bronze", d => ScriptAsync(cs, d, sameJob: true));
                await Measure(floor, "floor", "floor", d => FloorAsync(cs, d, bronze: false));
                await Measure(floorBronze, "floor-bronze", "floor-bronze", d => FloorAsync(cs, d, bronze: true));
                // With --baseline, the two builds take turns going first, so neither always runs on a warmer cache.
                if (baselineDll is not null && i % 2 == 0) await BaselineAsync();
                var g = await IngotAsync(ingotDll, cs, Path.Combine(work, $"ingot-{i}"), pageSize, concurrency, rows);
                ingot.Add(g);
                Line(i, "ingot", g, Path.Combine(work, $"ingot-{i}", "lake"));
                if (baselineDll is not null && i % 2 == 1) await BaselineAsync();
                async Task BaselineAsync()
                {
                    var a = await IngotAsync(baselineDll, cs, Path.Combine(work, $"baseline-{i}"), pageSize, concurrency, rows);
                    baseline.Add(a);
                    Line(i, "ingot --baseline", a, Path.Combine(work, $"baseline-{i}", "lake"));
                    Directory.Delete(Path.Combine(work, $"baseline-{i}"), true);
                }
                // The same-job script and the bronze floor are only that if they hash the same canonical JSON: every Ingot hash must be theirs too.
                long Agreeing(string dir)
                {
                    using var db = DuckDbSession.Open();
                    return (long)db.Scalar(
                        $"SELECT count(*) FROM read_parquet({DuckDbSession.Literal(Path.Combine(work, $"ingot-{i}", "lake", "**", "*.parquet"))}) i " +
                        $"SEMI JOIN read_parquet({DuckDbSession.Literal(Path.Combine(work, $"{dir}-{i}", "x.parquet"))}) d ON i._record_hash = d._record_hash")!;
                }
                agree = Agreeing("bronze");
                if (agree != rows) throw new InvalidOperationException($"run {i}: only {agree:N0} of {rows:N0} Ingot hashes are the same-job script's");
                if (Agreeing("floor-bronze") is var floorAgree && floorAgree != rows) throw new InvalidOperationException($"run {i}: only {floorAgree:N0} of {rows:N0} Ingot hashes are the bronze floor's");
                foreach (var dir in new[] { "script", "bronze", "ingot", "floor", "floor-bronze" }) Directory.Delete(Path.Combine(work, $"{dir}-{i}"), true);
            }
            Console.WriteLine();
            var ratios = ingot.Zip(script, (g, s) => g.Seconds / s.Seconds).ToList();
            var sameJob = ingot.Zip(bronze, (g, b) => g.Seconds / b.Seconds).ToList();
            Console.WriteLine($"ingot wall        {Spread(ingot.Select(x => x.Seconds))} s");
            Console.WriteLine($"psql+duckdb wall  {Spread(script.Select(x => x.Seconds))} s");
            Console.WriteLine($"same job wall     {Spread(bronze.Select(x => x.Seconds))} s (psql \\copy, then DuckDB adding the metadata columns and the MD5 of each row's canonical JSON; hashes agreeing {agree:N0}/{rows:N0})");
            Console.WriteLine($"ingot/script wall {Spread(ratios)} x (goal <= 1.00)");
            Console.WriteLine($"ingot/same job    {Spread(sameJob)} x");
            Console.WriteLine($"floor wall        {Spread(floor.Select(x => x.Seconds))} s, {Spread(floor.Zip(script, (f, s) => f.Seconds / s.Seconds))} x the script (Npgsql -> ParquetSharp, one query, one file, no hash, no metadata: PostgresFloor)");
            Console.WriteLine($"bronze floor wall {Spread(floorBronze.Select(x => x.Seconds))} s, {Spread(floorBronze.Zip(script, (f, s) => f.Seconds / s.Seconds))} x the script (the floor plus each row's MD5 and the metadata columns; hashes agreeing with Ingot's)");
            Console.WriteLine($"ingot/bronze floor {Spread(ingot.Zip(floorBronze, (g, f) => g.Seconds / f.Seconds))} x wall, {Spread(ingot.Zip(floorBronze, (g, f) => g.MachineCpu / f.MachineCpu))} x machine CPU (what Ingot's engine adds: pages, partitions, files, state, its record seam)");
            Console.WriteLine($"ingot peak RSS    {Spread(ingot.Select(x => x.Rss / 1048576.0))} MB (goal <= 256)");
            Console.WriteLine($"ingot machine CPU {Spread(ingot.Select(x => x.MachineCpu))} CPU-s (every process on the machine while it ran: ingot and the server)");
            if (baseline.Count > 0)
            {
                Console.WriteLine($"ingot/baseline    wall {Spread(ingot.Zip(baseline, (g, a) => g.Seconds / a.Seconds))} x, machine CPU {Spread(ingot.Zip(baseline, (g, a) => g.MachineCpu / a.MachineCpu))} x (--baseline {baselineDll}, the two taking turns to go first)");
                Console.WriteLine($"baseline peak RSS {Spread(baseline.Select(x => x.Rss / 1048576.0))} MB");
            }
            Console.WriteLine($"psql peak RSS     {Spread(script.Select(x => x.Rss / 1048576.0))} MB (DuckDB runs in this process; not counted)");
            // Other work on the machine moves both wall times; the ratio less so. Said with the figures, not guessed later.
            Console.WriteLine($"load average      {loadAtStart} at start, {ParquetBench.LoadAverage()} at end");
            return 0;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The ReadyToRun ingot <c>scripts/quickstart.sh</c> publishes, found from the bench's folder up to the repository.</summary>
    private static string? PublishedIngot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var dll = Path.Combine(dir.FullName, ".build", "ingot", "ingot.dll");
            if (File.Exists(dll)) return dll;
        }
        return null;
    }

    private static string Spread(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        return $"{v[0],7:N2} – {v[v.Count / 2],7:N2} – {v[^1],7:N2}";
    }

    private static double DirMb(string dir) =>
        Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*.parquet", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) / 1e6 : 0;

    /// <summary>Orders as a shop has them: a few columns of each common kind, <c>updated_at</c> indexed with the key.</summary>
    private static async Task CreateOrdersAsync(string cs, long rows)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        foreach (var sql in new[]
        {
            """
            CREATE TABLE orders (order_id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, amount numeric(12,2) NOT NULL,
              currency char(3) NOT NULL, order_date timestamptz NOT NULL, updated_at timestamptz NOT NULL, note text)
            """,
            $"""
            INSERT INTO orders SELECT i, (i::bigint * 7919) % 50000, (ARRAY['new','paid','shipped','delivered','returned'])[1 + i % 5], ((i * 37) % 100000) / 100.0,
              'EUR', timestamptz '2024-01-01 00:00:00+00' + i * interval '2 seconds', timestamptz '2024-01-01 00:00:00+00' + i * interval '2 seconds' + (i % 600) * interval '1 second',
              CASE WHEN i % 4 = 0 THEN 'gift wrap, leave at door' END
            FROM generate_series(1, {rows}) i
            """,
            "CREATE INDEX orders_updated ON orders (updated_at, order_id)",
            "VACUUM ANALYZE orders",
        })
        {
            await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private static async Task<Measured> IngotAsync(string ingotDll, string cs, string dir, long pageSize, long concurrency, long rows)
    {
        Directory.CreateDirectory(dir);
        var pipeline = Path.Combine(dir, "orders.yaml");
        await File.WriteAllTextAsync(pipeline, $"""
            name: shop
            source:
              type: postgres
              connection: ${"{"}BENCH_PG{"}"}
              page_size: {pageSize}
              streams:
                - name: orders
                  table: public.orders
                  primary_key: [order_id]
                  cursor: updated_at
                  event_time: order_date
            destinations:
              - type: parquet
                path: ./lake
                partition_by: [ingestion_date, load_type, event_date]
                compression: zstd
            """);
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { ingotDll, "run", pipeline, "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        // Pooled, as a user's connection string is unless it says otherwise (the bench's own connections are not pooled,
        // so the cluster stops cleanly): measured ~0.5 s less than a new server backend for each of the 100 pages.
        psi.Environment["BENCH_PG"] = new NpgsqlConnectionStringBuilder(cs) { Pooling = true }.ConnectionString;
        psi.Environment["INGOT_HOME"] = Path.Combine(dir, ".ingot");
        psi.Environment["INGOT_LOG_FORMAT"] = "json";
        var (measured, output) = await MeasureAsync(psi);
        using (var db = DuckDbSession.Open())
        {
            var landed = (long)db.Scalar($"SELECT count(*) FROM read_parquet({DuckDbSession.Literal(Path.Combine(dir, "lake", "**", "*.parquet"))})")!;
            if (landed != rows) throw new InvalidOperationException($"ingot landed {landed:N0} of {rows:N0} rows: {output}");
        }
        return measured;
    }

    /// <summary>
    /// The user's script: <c>psql \copy</c> to CSV, then DuckDB to Parquet — the five-column copy (the issue's anchor) or,
    /// with <paramref name="sameJob"/>, the bronze job Ingot does: the values as Ingot lands them, the metadata columns and
    /// the MD5 of each row's canonical JSON (keys sorted; numerics' digits, timestamps as <c>to_jsonb</c> writes them in UTC).
    /// </summary>
    private static async Task<Measured> ScriptAsync(string cs, string dir, bool sameJob)
    {
        Directory.CreateDirectory(dir);
        var csv = Path.Combine(dir, "file.csv");
        var b = new NpgsqlConnectionStringBuilder(cs);
        var psi = new ProcessStartInfo("psql") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Timestamps in UTC, as Ingot writes them (the same-job script's text must be Ingot's).
        psi.Environment["PGTZ"] = "UTC";
        foreach (var a in new[] { "-h", b.Host!, "-p", b.Port.ToString(CultureInfo.InvariantCulture), "-U", b.Username!, "-d", b.Database!, "-v", "ON_ERROR_STOP=1", "-c",
                     $"\\copy (SELECT * FROM orders ORDER BY updated_at, order_id) TO '{csv}' WITH (FORMAT csv, HEADER)" })
            psi.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        var cpu = MachineCpuSeconds();
        var (copy, _) = await MeasureAsync(psi);
        using (var db = DuckDbSession.Open())
        {
            var from = sameJob ? BronzeSql(csv) : $"FROM read_csv({DuckDbSession.Literal(csv)})";
            db.Execute($"COPY ({from}) TO {DuckDbSession.Literal(Path.Combine(dir, "x.parquet"))} (FORMAT parquet, COMPRESSION zstd)");
        }
        var measured = new Measured(clock.Elapsed.TotalSeconds, copy.Rss, MachineCpuSeconds() - cpu);
        File.Delete(csv);
        return measured;
    }

    /// <summary>The floor (<see cref="PostgresFloor"/>) in a fresh process of this bench, as users would run such a program.</summary>
    private static async Task<Measured> FloorAsync(string cs, string dir, bool bronze)
    {
        Directory.CreateDirectory(dir);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "Ingot.Bench.dll"), PostgresFloor.ChildCommand, cs, Path.Combine(dir, "x.parquet"), bronze ? "bronze" : "plain" })
            psi.ArgumentList.Add(a);
        var (measured, _) = await MeasureAsync(psi);
        return measured;
    }

    /// <summary>The bench's orders as Ingot's bronze rows, from psql's CSV (read as text, so every value keeps its digits).</summary>
    private static string BronzeSql(string csv)
    {
        static string Iso(string column) => $"(replace({column}, ' ', 'T') || ':00')";
        static string Json(string value) => $"to_json({value})::VARCHAR";
        return "SELECT CAST(order_id AS BIGINT) AS order_id, CAST(customer_id AS BIGINT) AS customer_id, status, CAST(amount AS DOUBLE) AS amount, currency, " +
            $"{Iso("order_date")} AS order_date, {Iso("updated_at")} AS updated_at, note, " +
            $"md5('{{\"amount\":' || amount || ',\"currency\":' || {Json("currency")} || ',\"customer_id\":' || customer_id || ',\"note\":' || coalesce({Json("note")}, 'null') || " +
            $"',\"order_date\":' || {Json(Iso("order_date"))} || ',\"order_id\":' || order_id || ',\"status\":' || {Json("status")} || " +
            $"',\"updated_at\":' || {Json(Iso("updated_at"))} || '}}') AS _record_hash, " +
            $"'{Guid.NewGuid()}' AS _ingestion_id, now() AS _ingested_at, 'postgres' AS _source_system, 'orders' AS _stream, 'orders-00000' AS _chunk_key, " +
            "CAST(order_date AS TIMESTAMPTZ) AS _event_ts " +
            $"FROM read_csv({DuckDbSession.Literal(csv)}, all_varchar = true, header = true)";
    }

    /// <summary>A run's wall time, peak RSS, and the CPU every process on the machine used meanwhile (from /proc/stat).</summary>
    private readonly record struct Measured(double Seconds, long Rss, double MachineCpu);

    /// <summary>CPU time the whole machine has spent busy since boot (user, nice, system, irq, softirq), in seconds.</summary>
    private static double MachineCpuSeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long Ticks(int i) => long.Parse(fields[i], CultureInfo.InvariantCulture);
        // USER_HZ is 100 on Linux builds of every distribution this runs on.
        return (Ticks(1) + Ticks(2) + Ticks(3) + Ticks(6) + Ticks(7)) / 100.0;
    }

    /// <summary>Runs a process to its end; its wall time, peak RSS (VmHWM, sampled until it exits) and the machine's CPU meanwhile.</summary>
    private static async Task<(Measured Measured, string Output)> MeasureAsync(ProcessStartInfo psi)
    {
        var cpu = MachineCpuSeconds();
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        long rss = 0;
        while (!p.HasExited)
        {
            rss = Math.Max(rss, ParquetBench.PeakRss(p.Id));
            await Task.WhenAny(p.WaitForExitAsync(), Task.Delay(50));
        }
        await p.WaitForExitAsync();
        var seconds = clock.Elapsed.TotalSeconds;
        var used = MachineCpuSeconds() - cpu;
        var output = await stdout + await stderr;
        if (p.ExitCode != 0) throw new InvalidOperationException($"{psi.FileName} exited {p.ExitCode}: {output}");
        return (new Measured(seconds, rss, used), output);
    }

    /// <summary>A throwaway PostgreSQL cluster for the bench: trust authentication on loopback, fsync off, stopped and removed at the end.</summary>
    private sealed class Cluster : IAsyncDisposable
    {
        private readonly string _dir;
        private readonly string _bin;

        private Cluster(string dir, string bin, int port)
        {
            _dir = dir;
            _bin = bin;
            ConnectionString = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = "postgres", Database = "postgres", Pooling = false }.ConnectionString;
        }

        public string ConnectionString { get; }

        public string Version => Path.GetFileName(Path.GetDirectoryName(_bin)!);

        public static async Task<Cluster> StartAsync()
        {
            // Its own temp folder (not under the bench's, which only root may enter): the server runs as postgres.
            var dir = Directory.CreateTempSubdirectory("ingot-bench-pgdata-").FullName;
            var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).Order().LastOrDefault()
                ?? throw new InvalidOperationException("PostgreSQL server binaries are missing: run scripts/bootstrap.sh --tests");
            var root = Environment.UserName == "root";
            if (root) await ExecAsync("chown", "postgres:postgres", dir);
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            var cluster = new Cluster(dir, bin, port);
            await cluster.PgAsync("initdb", "-D", Path.Combine(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C");
            await cluster.PgAsync("pg_ctl", "-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60", "-o",
                $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=256MB", "start");
            return cluster;
        }

        private Task PgAsync(string tool, params string[] args) =>
            Environment.UserName == "root" ? ExecAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args]) : ExecAsync(Path.Combine(_bin, tool), args);

        private static async Task ExecAsync(string file, params string[] args)
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {output}");
        }

        public async ValueTask DisposeAsync()
        {
            try { await PgAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"); } catch (InvalidOperationException) { }
            try { Directory.Delete(_dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
