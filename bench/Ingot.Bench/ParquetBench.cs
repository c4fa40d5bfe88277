using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.DuckDb.Parquet;
using Ingot.Sources;
using Ingot.Storage;
using Record = Ingot.Records.Record;

namespace Ingot.Bench;

/// <summary>
/// NDJSON → bronze Parquet. The anchor: DuckDB alone doing the same bronze job (the metadata columns and the MD5 of each
/// record's canonical JSON, checked to agree with Ingot's hashes); for context, DuckDB writing only the five source columns
/// (<c>COPY (SELECT * FROM read_json(...)) TO ...</c>). Ingot: records kept as their UTF-8 lines, <see cref="ParquetDestination"/>
/// landing chunks on concurrent landers. Each engine in a child process (for an honest peak RSS), several runs alternating,
/// reported as min – median – max.
/// </summary>
internal static class ParquetBench
{
    public const string ChildCommand = "parquet-child";

    public static async Task<int> RunAsync(string[] args)
    {
        var rows = LongOption(args, "--rows", 1_000_000);
        // Chunks are what Ingot keeps alive (one being read, one queued, one per lander): 20k rows (~2 MB of JSON) each,
        // about a NOAA month of ten stations at 15 minutes.
        var chunk = (int)LongOption(args, "--chunk", 20_000);
        var repeats = (int)LongOption(args, "--repeats", 3);
        var scales = (Option(args, "--scales") ?? "1,10").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var work = Directory.CreateTempSubdirectory("ingot-bench-parquet-").FullName;
        Console.WriteLine($"DuckDB {DuckDbSession.LibraryVersion}, {Environment.ProcessorCount} cores, chunk {chunk:N0} rows, {repeats} runs of each engine (alternating), load average {LoadAverage()}, work dir {work}");
        Console.WriteLine(IsReadyToRun(typeof(ParquetDestination).Assembly)
            ? "Ingot's assemblies: ReadyToRun (as scripts/quickstart.sh publishes ingot)"
            : "Ingot's assemblies: JIT only (the build output; scripts/bench.sh runs the published ReadyToRun bench, as users run ingot)");
        Console.WriteLine();
        Console.WriteLine($"{"rows",12} {"run",3} {"engine",-14} {"seconds",8} {"rows/s",12} {"peak RSS MB",12} {"output MB",10}");
        var summary = new List<string>();
        try
        {
            foreach (var scale in scales)
            {
                var n = rows * scale;
                var file = Path.Combine(work, $"input-{n}.ndjson");
                var sw = Stopwatch.StartNew();
                Generate(file, n);
                Console.WriteLine($"  (generated {n:N0} records, {new FileInfo(file).Length / 1e6:N0} MB, in {sw.Elapsed.TotalSeconds:N1} s)");
                var duck = new List<Result>();
                var bronze = new List<Result>();
                var ingot = new List<Result>();
                long agree = 0;
                for (var r = 1; r <= repeats; r++)
                {
                    foreach (var (engine, results) in new[] { ("duckdb", duck), (BronzeEngine, bronze), ("ingot", ingot) })
                    {
                        var result = await RunChild(engine, file, Path.Combine(work, $"{engine}-{n}"), chunk);
                        results.Add(result);
                        Console.WriteLine($"{n,12:N0} {r,3} {engine,-14} {result.Seconds,8:N2} {n / result.Seconds,12:N0} {result.PeakRssBytes / 1048576.0,12:N0} {result.OutputBytes / 1e6,10:N1}");
                    }
                    // The same-job anchor is only fair if it computes the same thing: every Ingot hash must be DuckDB's too.
                    using (var session = DuckDbSession.Open())
                    {
                        agree = (long)session.Scalar(
                            $"SELECT count(*) FROM read_parquet({DuckDbSession.Literal(Path.Combine(work, $"ingot-{n}") + "/**/*.parquet")}) i " +
                            $"SEMI JOIN read_parquet({DuckDbSession.Literal(Path.Combine(work, $"{BronzeEngine}-{n}", "x.parquet"))}) d ON i._record_hash = d._record_hash")!;
                    }
                    if (agree != n) throw new InvalidOperationException($"run {r}: only {agree:N0} of {n:N0} Ingot hashes are DuckDB's");
                    foreach (var dir in new[] { "duckdb", BronzeEngine, "ingot" }) Directory.Delete(Path.Combine(work, $"{dir}-{n}"), true);
                }
                File.Delete(file);
                // Ratios pair each run of Ingot with the anchor run just before it (same machine state).
                var sameJob = bronze.Zip(ingot, (b, i) => b.Seconds / i.Seconds).ToList();
                var context = duck.Zip(ingot, (d, i) => d.Seconds / i.Seconds).ToList();
                var goal = scale == 1 ? 1.0 : 1.2;
                summary.Add($"{n,12:N0} rows: ingot/{BronzeEngine} (DuckDB doing the same bronze job) = {Ratio(sameJob)} (issue 10 goal >= {goal:N1}{(rows == 1_000_000 ? "" : " at 1 M / 10 M rows")}); hashes agreeing {agree:N0}/{n:N0}");
                summary.Add($"{"",12}       ingot seconds {Ratio(ingot.Select(x => x.Seconds).ToList())}, {BronzeEngine} {Ratio(bronze.Select(x => x.Seconds).ToList())}");
                summary.Add($"{"",12}       ingot peak RSS {Ratio(ingot.Select(x => x.PeakRssBytes / 1048576.0).ToList(), "0")} MB (goal <= 256); {BronzeEngine} {bronze.Max(x => x.PeakRssBytes) / 1048576.0:N0} MB");
                summary.Add($"{"",12}       ingot/duckdb (DuckDB writing the five source columns, no hash, no metadata: context only) = {Ratio(context)}");
            }
        }
        finally
        {
            Directory.Delete(work, true);
        }
        Console.WriteLine();
        Console.WriteLine("min – median – max over the runs:");
        foreach (var line in summary) Console.WriteLine(line);
        Console.WriteLine($"load average at the end {LoadAverage()}");
        return 0;
    }

    private static string Ratio(List<double> values, string format = "0.00") =>
        string.Create(CultureInfo.InvariantCulture, $"{values.Min().ToString(format, CultureInfo.InvariantCulture)} – {Stats.Median(values).ToString(format, CultureInfo.InvariantCulture)} – {values.Max().ToString(format, CultureInfo.InvariantCulture)}");

    /// <summary>The 1-minute load average (Linux), or "?" where there is none.</summary>
    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    /// <summary>Whether an assembly carries precompiled (ReadyToRun) code.</summary>
    internal static bool IsReadyToRun(System.Reflection.Assembly assembly)
    {
        using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(assembly.Location));
        return pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
    }

    private sealed record Result(double Seconds, long PeakRssBytes, long OutputBytes);

    private static async Task<Result> RunChild(string engine, string input, string output, int chunk)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            start.ArgumentList.Add(typeof(ParquetBench).Assembly.Location);
        foreach (var a in new[] { ChildCommand, engine, input, output, chunk.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{engine} child failed ({process.ExitCode}): {text}");
        var json = JsonNode.Parse(text.Trim().Split('\n')[^1])!;
        return new Result((double)json["seconds"]!, (long)json["peak_rss"]!, (long)json["output_bytes"]!);
    }

    public static async Task<int> RunChildAsync(string[] args)
    {
        var (engine, input, output, chunk) = (args[0], args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture));
        Directory.CreateDirectory(output);
        var sw = Stopwatch.StartNew();
        if (engine == "duckdb")
        {
            using var session = DuckDbSession.Open();
            session.Execute($"COPY (SELECT * FROM read_json({DuckDbSession.Literal(input)})) TO {DuckDbSession.Literal(Path.Combine(output, "x.parquet"))} (FORMAT parquet, COMPRESSION zstd)");
        }
        else if (engine == BronzeEngine)
        {
            using var session = DuckDbSession.Open();
            session.Execute($"COPY ({BronzeSql(input)}) TO {DuckDbSession.Literal(Path.Combine(output, "x.parquet"))} (FORMAT parquet, COMPRESSION zstd)");
        }
        else
        {
            using var probe = Environment.GetEnvironmentVariable("ALLOCPROBE") == "1" ? new AllocProbe() : null;
            await LandWithIngotAsync(input, output, chunk);
            probe?.Print();
        }
        var seconds = sw.Elapsed.TotalSeconds;
        var bytes = Directory.EnumerateFiles(output, "*.parquet", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["seconds"] = seconds, ["peak_rss"] = PeakRss(), ["output_bytes"] = bytes, ["gc"] = $"{GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}", ["alloc_mb"] = GC.GetTotalAllocatedBytes() >> 20, ["gc_pause_ms"] = GC.GetTotalPauseDuration().TotalMilliseconds }));
        return 0;
    }

    /// <summary>The second anchor: DuckDB alone producing the bronze table Ingot produces (fields, run constants, MD5 of the canonical JSON, event time).</summary>
    private const string BronzeEngine = "duckdb-bronze";

    /// <summary>
    /// The record's fields as the source wrote them (no type guessing, so the JSON text hashed is the source's), the
    /// canonical JSON (keys sorted, compact) as DuckDB's <c>to_json</c> of a struct in key order, and Ingot's metadata columns.
    /// </summary>
    private static string BronzeSql(string input) =>
        "SELECT *, md5(to_json(struct_pack(attributes := attributes, datatype := datatype, date := date, station := station, value := value))) AS _record_hash, " +
        $"'{Guid.NewGuid()}' AS _ingestion_id, now() AS _ingested_at, 'noaa-cdo' AS _source_system, 'precip' AS _stream, 'precip-00000' AS _chunk_key, " +
        "CAST(strptime(date, '%Y-%m-%dT%H:%M:%S') AS TIMESTAMPTZ) AS _event_ts " +
        $"FROM read_json({DuckDbSession.Literal(input)}, columns = {{station: 'VARCHAR', date: 'VARCHAR', datatype: 'VARCHAR', attributes: 'VARCHAR', value: 'BIGINT'}})";

    private static async Task LandWithIngotAsync(string input, string output, int chunkSize)
    {
        var store = new LocalBlobStore(output);
        var spec = new ParquetDestinationSpec(output, new StoreOptions(), ["ingestion_date", "load_type"], "zstd", 0);
        await using var destination = ParquetDestination.Create(spec, store, "bench");
        var run = new RunContext(Guid.NewGuid(), "bench", TimeProvider.System.GetUtcNow());
        await destination.PrepareAsync(run, CancellationToken.None);
        var journal = new NullJournal();
        await FeedAsync(input, chunkSize, chunk => LandAsync(destination, run, chunk, journal));
    }

    /// <summary>
    /// Reads the next chunks while earlier ones land: the source side keeps each record as its UTF-8 line (in pooled
    /// 1 MB arenas, returned when the chunk has landed) plus its event time, as a file connector does; landing runs
    /// on as many landers as the engine uses.
    /// </summary>
    internal static async Task FeedAsync(string input, int chunkSize, Func<ChunkData, Task> land)
    {
        var channel = Channel.CreateBounded<(ChunkData Chunk, List<byte[]> Arenas)>(new BoundedChannelOptions(1) { SingleReader = false, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            // An array per chunk, as the sources hand their pages over.
            var records = new Record[chunkSize];
            var count = 0;
            var arenas = new List<byte[]>();
            byte[]? arena = null;
            var used = 0;
            var index = 0;
            foreach (var line in ReadLines(input))
            {
                if (arena is null || used + line.Length > arena.Length)
                {
                    arena = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(1 << 20, line.Length));
                    arenas.Add(arena);
                    used = 0;
                }
                line.Span.CopyTo(arena.AsSpan(used));
                var json = arena.AsMemory(used, line.Length);
                used += line.Length;
                records[count++] = Record.FromUtf8(json, EventTime(json.Span));
                if (count == chunkSize)
                {
                    await channel.Writer.WriteAsync((ToChunk(index++, records), arenas));
                    records = new Record[chunkSize];
                    count = 0;
                    arenas = [];
                    arena = null;
                }
            }
            if (count > 0) await channel.Writer.WriteAsync((ToChunk(index, records[..count]), arenas));
            channel.Writer.Complete();
        });
        var landers = Enumerable.Range(0, Landers).Select(_ => Task.Run(async () =>
        {
            await foreach (var (chunk, arenas) in channel.Reader.ReadAllAsync())
            {
                await land(chunk);
                foreach (var used in arenas) System.Buffers.ArrayPool<byte>.Shared.Return(used);
            }
        })).ToArray();
        await producer;
        await Task.WhenAll(landers);
    }

    /// <summary>Chunks landing at once, as the engine's landers do on this machine (min(fetch concurrency, 4), at least 2 here).</summary>
    private static readonly int Landers = Math.Clamp(Environment.ProcessorCount, 2, 4);

    /// <summary>The record's <c>date</c> (NOAA's <c>yyyy-MM-ddTHH:mm:ss</c>, UTC) as its event time.</summary>
    private static DateTimeOffset? EventTime(ReadOnlySpan<byte> json)
    {
        // A connector that knows its records' shape finds the field directly; anything unexpected takes the reader.
        var at = json.IndexOf("\"date\":\""u8);
        if (at >= 0 && at + 27 < json.Length && json[at + 27] == (byte)'"') return Timestamp(json.Slice(at + 8, 19));
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isDate = reader.ValueTextEquals("date"u8);
            reader.Read();
            if (!isDate)
            {
                reader.Skip();
                continue;
            }
            return reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length == 19 ? Timestamp(reader.ValueSpan) : null;
        }
        return null;
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss</c> as a UTC instant.</summary>
    private static DateTimeOffset Timestamp(ReadOnlySpan<byte> t)
    {
        static int D(ReadOnlySpan<byte> s, int i, int n)
        {
            var v = 0;
            for (var k = i; k < i + n; k++) v = v * 10 + (s[k] - '0');
            return v;
        }
        return new DateTimeOffset(D(t, 0, 4), D(t, 5, 2), D(t, 8, 2), D(t, 11, 2), D(t, 14, 2), D(t, 17, 2), TimeSpan.Zero);
    }

    /// <summary>UTF-8 lines of a file, without decoding to strings first.</summary>
    private static IEnumerable<ReadOnlyMemory<byte>> ReadLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        var buffer = new byte[1 << 20];
        int filled = 0, read;
        while ((read = stream.Read(buffer, filled, buffer.Length - filled)) > 0 || filled > 0)
        {
            filled += read;
            var start = 0;
            int newline;
            while ((newline = Array.IndexOf(buffer, (byte)'\n', start, filled - start)) >= 0)
            {
                if (newline > start) yield return buffer.AsMemory(start, newline - start);
                start = newline + 1;
            }
            if (read == 0)
            {
                if (start < filled) yield return buffer.AsMemory(start, filled - start);
                yield break;
            }
            Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
            filled -= start;
            if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
        }
    }

    /// <summary>A unit of the bench's stream with its one page, as a source hands it to the engine.</summary>
    internal sealed record ChunkData(WorkUnit Unit, FetchedPage Page);

    private static ChunkData ToChunk(int index, Record[] records)
    {
        var key = $"precip-{index:D5}";
        var unit = new WorkUnit(key, "precip", "noaa-cdo", "noaa-cdo", new TimeWindowBounds(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1), DateTimeOffset.UnixEpoch.AddDays(1), []),
            UnitIdentity.Of(("bench", "1")), LoadType.Full);
        return new ChunkData(unit, new FetchedPage(key, ReadOnlyMemory<byte>.Empty, "GET /data", 200, DateTimeOffset.UnixEpoch, records));
    }

    /// <summary>Lands a unit the way the engine's landers do: begin, write its page, complete.</summary>
    internal static async Task<Receipt> LandAsync(IDestination destination, RunContext run, ChunkData chunk, IFileJournal journal)
    {
        await using var writer = await destination.BeginAsync(run, chunk.Unit, journal, CancellationToken.None);
        await writer.WriteAsync(chunk.Page, CancellationToken.None);
        return await writer.CompleteAsync(new UnitTotals(chunk.Page.Records.Count, 0, 1, 0), CancellationToken.None);
    }

    internal sealed class NullJournal : IFileJournal
    {
        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>NOAA-like PRECIP_15 rows: station, date, datatype, attributes, value.</summary>
    internal static void Generate(string file, long rows)
    {
        var random = new Random(42);
        var stations = Enumerable.Range(0, 500).Select(i => $"COOP:{310000 + i * 37:D6}").ToArray();
        var start = new DateTime(2010, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        using var writer = new StreamWriter(file, false, new UTF8Encoding(false), 1 << 20);
        var sb = new StringBuilder(160);
        for (long i = 0; i < rows; i++)
        {
            var date = start.AddMinutes(15 * (i / stations.Length));
            sb.Clear();
            sb.Append("{\"station\":\"").Append(stations[i % stations.Length])
              .Append("\",\"date\":\"").Append(date.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture))
              .Append("\",\"datatype\":\"").Append(random.Next(10) == 0 ? "QPCP" : "QGAG")
              .Append("\",\"attributes\":\"").Append(random.Next(4) switch { 0 => ",,C,", 1 => "g,,C,", 2 => ",,HI,", _ => "[,,C," })
              .Append("\",\"value\":").Append(random.Next(20) == 0 ? random.Next(0, 2500) : 0)
              .Append('}');
            writer.WriteLine(sb);
        }
    }

    /// <summary>VmHWM of this process, or of process <paramref name="pid"/> (-1 when it is gone or unreadable).</summary>
    internal static long PeakRss(int? pid = null)
    {
        IEnumerable<string> lines;
        try
        {
            lines = File.ReadAllLines(pid is null ? "/proc/self/status" : $"/proc/{pid}/status");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
        foreach (var line in lines)
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        return -1;
    }

    internal static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    internal static long LongOption(string[] args, string name, long fallback) =>
        Option(args, name) is { } v ? long.Parse(v.Replace("_", "", StringComparison.Ordinal), CultureInfo.InvariantCulture) : fallback;
}
