using System.Diagnostics;

namespace Ingot.Bench;

/// <summary>
/// <c>ingot iceberg … compact</c> on a table of many small files: NOAA-shaped records landed as small units (one small
/// file each), then, timed: a refresh of one unit before compaction (its own files dropped: the anchor), the compaction
/// (every small file merged into target-size files, one replace snapshot), and the same refresh after it (the compacted
/// file rewritten without the unit's rows: the cost of copy-on-write).
/// </summary>
internal static class IcebergCompactBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rows = ParquetBench.LongOption(args, "--rows", 400_000);
        var chunk = (int)ParquetBench.LongOption(args, "--chunk", 4_000);
        var reps = (int)ParquetBench.LongOption(args, "--reps", 5);
        var work = Directory.CreateTempSubdirectory("ingot-bench-compact-").FullName;
        try
        {
            var input = Path.Combine(work, "input.ndjson");
            ParquetBench.Generate(input, rows);
            // The same generator's first chunk: the first unit again, for the refresh.
            var first = Path.Combine(work, "first.ndjson");
            ParquetBench.Generate(first, chunk);
            Console.WriteLine($"{rows:N0} NOAA-shaped records in units of {chunk:N0} ({(rows + chunk - 1) / chunk} small files), {Environment.ProcessorCount} cores, {reps} timed passes after a warm-up");
            var (compact, before, after) = (new List<double>(), new List<double>(), new List<double>());
            for (var rep = -1; rep < reps; rep++)
            {
                var table = Path.Combine(work, $"iceberg-{rep + 1}");
                await IcebergBench.LandIcebergAsync(input, table, chunk);
                var b = await TimeAsync(() => RefreshAsync(first, table, chunk));
                await using var destination = IcebergBench.Destination(table);
                Ingot.Iceberg.CompactionResult? result = null;
                var c = await TimeAsync(async () => result = await destination.CompactAsync("precip", dryRun: false, CancellationToken.None));
                var a = await TimeAsync(() => RefreshAsync(first, table, chunk));
                Directory.Delete(table, true);
                if (rep < 0) continue;
                compact.Add(c);
                before.Add(b);
                after.Add(a);
                Console.WriteLine($"  pass {rep + 1}: compact {c,6:N2} s ({rows / c,10:N0} rows/s, files {result!.FilesBefore} -> {result.FilesAfter}, {result.BytesBefore / 1e6:N1} -> {result.BytesAfter / 1e6:N1} MB)   refresh before {b:N3} s   after {a:N3} s");
            }
            Console.WriteLine();
            Console.WriteLine($"compact                        {Stats.Spread(compact)}");
            Console.WriteLine($"refresh of one unit, before    {Stats.Spread(before)}");
            Console.WriteLine($"refresh of one unit, after     {Stats.Spread(after)}  (copy-on-write of the compacted file)");
        }
        finally
        {
            Directory.Delete(work, true);
        }
        return 0;
    }

    private static async Task RefreshAsync(string first, string table, int chunk)
    {
        await using var destination = IcebergBench.Destination(table);
        var run = new Ingot.Destinations.RunContext(Guid.NewGuid(), "bench", TimeProvider.System.GetUtcNow());
        await destination.PrepareAsync(run, CancellationToken.None);
        var staged = new List<(Ingot.Sources.WorkUnit, Ingot.Destinations.Receipt)>();
        await ParquetBench.FeedAsync(first, chunk, async c =>
        {
            var receipt = await ParquetBench.LandAsync(destination, run, c, new ParquetBench.NullJournal());
            lock (staged) staged.Add((c.Unit, receipt));
        });
        await destination.CommitGroupAsync(run, staged, CancellationToken.None);
    }

    private static async Task<double> TimeAsync(Func<Task> run)
    {
        GC.Collect();
        var sw = Stopwatch.StartNew();
        await run();
        return sw.Elapsed.TotalSeconds;
    }
}
