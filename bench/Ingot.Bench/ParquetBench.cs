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
using Ingot.Storage;
using Record = Ingot.Records.Record;

namespace Ingot.Bench;

/// <summary>
/// NDJSON → Parquet: DuckDB alone (<c>COPY (SELECT * FROM read_json(...)) TO ...</c>) against Ingot (System.Text.Json
/// records, metadata, hash, <see cref="ParquetDestination"/> in chunks), each in a child process for an honest peak RSS.
/// </summary>
internal static class ParquetBench
{
    public const string ChildCommand = "parquet-child";

    public static async Task<int> RunAsync(string[] args)
    {
        var rows = LongOption(args, "--rows", 1_000_000);
        // Chunks are what Ingot keeps alive (one being parsed, one queued, one landing): 10k rows keeps the heap small.
        var chunk = (int)LongOption(args, "--chunk", 10_000);
        var scales = (Option(args, "--scales") ?? "1,10").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var work = Directory.CreateTempSubdirectory("ingot-bench-parquet-").FullName;
        Console.WriteLine($"DuckDB {DuckDbSession.LibraryVersion}, {Environment.ProcessorCount} cores, chunk {chunk:N0} rows, work dir {work}");
        Console.WriteLine();
        Console.WriteLine($"{"rows",12} {"engine",-8} {"seconds",8} {"rows/s",12} {"peak RSS MB",12} {"output MB",10}");
        var results = new List<(long Rows, Result DuckDb, Result Ingot)>();
        try
        {
            foreach (var scale in scales)
            {
                var n = rows * scale;
                var file = Path.Combine(work, $"input-{n}.ndjson");
                var sw = Stopwatch.StartNew();
                Generate(file, n);
                Console.WriteLine($"  (generated {n:N0} records, {new FileInfo(file).Length / 1e6:N0} MB, in {sw.Elapsed.TotalSeconds:N1} s)");
                var duck = await RunChild("duckdb", file, Path.Combine(work, $"duck-{n}"), chunk);
                Print(n, "duckdb", duck);
                var ingot = await RunChild("ingot", file, Path.Combine(work, $"ingot-{n}"), chunk);
                Print(n, "ingot", ingot);
                results.Add((n, duck, ingot));
                File.Delete(file);
                Directory.Delete(Path.Combine(work, $"duck-{n}"), true);
                Directory.Delete(Path.Combine(work, $"ingot-{n}"), true);
            }
        }
        finally
        {
            Directory.Delete(work, true);
        }
        Console.WriteLine();
        foreach (var (n, duck, ingot) in results)
        {
            var ratio = (n / ingot.Seconds) / (n / duck.Seconds);
            Console.WriteLine($"{n,12:N0} rows: ingot/duckdb throughput = {ratio:N2}x (goal >= 0.80), ingot peak RSS {ingot.PeakRssBytes / 1048576.0:N0} MB (goal <= 256)");
        }
        return 0;
    }

    private sealed record Result(double Seconds, long PeakRssBytes, long OutputBytes);

    private static void Print(long n, string engine, Result r) =>
        Console.WriteLine($"{n,12:N0} {engine,-8} {r.Seconds,8:N2} {n / r.Seconds,12:N0} {r.PeakRssBytes / 1048576.0,12:N0} {r.OutputBytes / 1e6,10:N1}");

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
        else
        {
            await LandWithIngotAsync(input, output, chunk);
        }
        var seconds = sw.Elapsed.TotalSeconds;
        var bytes = Directory.EnumerateFiles(output, "*.parquet", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["seconds"] = seconds, ["peak_rss"] = PeakRss(), ["output_bytes"] = bytes }));
        return 0;
    }

    private static async Task LandWithIngotAsync(string input, string output, int chunkSize)
    {
        var store = new LocalBlobStore(output);
        var spec = new DestinationSpec("parquet", output, ["ingestion_date", "load_type"], "zstd", 0, new StoreOptions());
        await using var destination = ParquetDestination.Create(spec, store, "bench");
        var run = new RunContext(Guid.NewGuid(), "bench", "noaa-cdo", TimeProvider.System.GetUtcNow(), LoadType.Full);
        await destination.PrepareAsync(run, CancellationToken.None);
        var journal = new NullJournal();

        // Parse the next chunk while the previous one lands: one chunk in flight, one being built (bounded memory).
        var channel = Channel.CreateBounded<ChunkData>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            var records = new List<Record>(chunkSize);
            var index = 0;
            foreach (var line in ReadLines(input))
            {
                var fields = ParseFlat(line.Span);
                var eventTs = DateTimeOffset.ParseExact(fields["date"]!.GetValue<string>(), "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
                records.Add(new Record(fields, eventTs));
                if (records.Count == chunkSize)
                {
                    await channel.Writer.WriteAsync(ToChunk(index++, records));
                    records = new List<Record>(chunkSize);
                }
            }
            if (records.Count > 0) await channel.Writer.WriteAsync(ToChunk(index, records));
            channel.Writer.Complete();
        });
        var landing = new Stopwatch();
        await foreach (var chunk in channel.Reader.ReadAllAsync())
        {
            landing.Start();
            await destination.LandAsync(run, chunk, journal, CancellationToken.None);
            landing.Stop();
        }
        await producer;
        Console.Error.WriteLine($"ingot: {landing.Elapsed.TotalSeconds:N2} s in LandAsync");
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

    /// <summary>
    /// A record as a source connector would build it: one pass of <see cref="Utf8JsonReader"/> over a flat object into
    /// primitive JSON values (nested values fall back to the DOM). Cheaper than <c>JsonNode.Parse</c>, whose
    /// element-backed objects materialize lazily on first touch.
    /// </summary>
    private static JsonObject ParseFlat(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line);
        reader.Read();
        var obj = new JsonObject();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = KnownName(ref reader) ?? reader.GetString()!;
            reader.Read();
            obj[name] = reader.TokenType switch
            {
                JsonTokenType.String => JsonValue.Create(reader.GetString()),
                JsonTokenType.Number => reader.TryGetInt64(out var l) ? JsonValue.Create(l) : JsonValue.Create(reader.GetDouble()),
                JsonTokenType.True => JsonValue.Create(true),
                JsonTokenType.False => JsonValue.Create(false),
                JsonTokenType.Null => null,
                _ => JsonNode.Parse(ref reader),
            };
        }
        return obj;
    }

    private static readonly string[] KnownNames = ["station", "date", "datatype", "attributes", "value"];

    /// <summary>A field name the source knows, without a string per record (what a connector with a schema does).</summary>
    private static string? KnownName(ref Utf8JsonReader reader)
    {
        foreach (var name in KnownNames)
        {
            if (reader.ValueTextEquals(name)) return name;
        }
        return null;
    }

    private static ChunkData ToChunk(int index, List<Record> records)
    {
        var key = $"precip-{index:D5}";
        return new ChunkData(key, "precip", DateTimeOffset.UnixEpoch, [new FetchedPage(key, ReadOnlyMemory<byte>.Empty, "GET /data", 200, DateTimeOffset.UnixEpoch, records)]);
    }

    private sealed class NullJournal : IFileJournal
    {
        public Task WillWriteAsync(string destination, string path, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>NOAA-like PRECIP_15 rows: station, date, datatype, attributes, value.</summary>
    private static void Generate(string file, long rows)
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

    private static long PeakRss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        return -1;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static long LongOption(string[] args, string name, long fallback) =>
        Option(args, name) is { } v ? long.Parse(v.Replace("_", "", StringComparison.Ordinal), CultureInfo.InvariantCulture) : fallback;
}
