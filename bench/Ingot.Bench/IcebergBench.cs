using System.Diagnostics;
using System.Globalization;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.DuckDb.Parquet;
using Ingot.Iceberg;
using Ingot.Iceberg.Catalog;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.Bench;

/// <summary>
/// NOAA-shaped records → an Iceberg table (<see cref="IcebergDestination"/>: data files with field ids and statistics,
/// manifests, a group commit per 32 units through the SQLite catalog) against the same records → plain Parquet (this
/// project's <see cref="ParquetDestination"/>), in the same process, alternating, fed and landed the way the engine
/// lands units. Goal: Iceberg at ≥ 0.9× the Parquet throughput.
/// </summary>
internal static class IcebergBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rows = ParquetBench.LongOption(args, "--rows", 1_000_000);
        var chunk = (int)ParquetBench.LongOption(args, "--chunk", 20_000);
        var reps = (int)ParquetBench.LongOption(args, "--reps", 5);
        var work = Directory.CreateTempSubdirectory("ingot-bench-iceberg-").FullName;
        try
        {
            var input = Path.Combine(work, "input.ndjson");
            ParquetBench.Generate(input, rows);
            Console.WriteLine($"{rows:N0} NOAA-shaped records ({new FileInfo(input).Length / 1e6:N0} MB NDJSON), chunks of {chunk:N0}, {Environment.ProcessorCount} cores, {reps} timed passes each after a warm-up");
            var parquet = new List<double>();
            var iceberg = new List<double>();
            for (var rep = -1; rep < reps; rep++)
            {
                var p = await TimeAsync(() => LandParquetAsync(input, Path.Combine(work, $"parquet-{rep + 1}"), chunk));
                var i = await TimeAsync(() => LandIcebergAsync(input, Path.Combine(work, $"iceberg-{rep + 1}"), chunk));
                Directory.Delete(Path.Combine(work, $"parquet-{rep + 1}"), true);
                Directory.Delete(Path.Combine(work, $"iceberg-{rep + 1}"), true);
                if (rep < 0) continue;
                parquet.Add(p);
                iceberg.Add(i);
                Console.WriteLine($"  pass {rep + 1}: parquet {p,6:N2} s ({rows / p,10:N0} rows/s)   iceberg {i,6:N2} s ({rows / i,10:N0} rows/s)   ratio {p / i:N2}x");
            }
            var ratios = parquet.Zip(iceberg, (p, i) => p / i).ToList();
            Console.WriteLine();
            Console.WriteLine($"parquet seconds  min {parquet.Min():N2}  median {Stats.Median(parquet):N2}  max {parquet.Max():N2}");
            Console.WriteLine($"iceberg seconds  min {iceberg.Min():N2}  median {Stats.Median(iceberg):N2}  max {iceberg.Max():N2}");
            Console.WriteLine($"iceberg/parquet throughput (per pass)  min {ratios.Min():N2}x  median {Stats.Median(ratios):N2}x  max {ratios.Max():N2}x  (goal >= 0.90)");
        }
        finally
        {
            Directory.Delete(work, true);
        }
        return 0;
    }


    private static async Task<double> TimeAsync(Func<Task> run)
    {
        GC.Collect();
        var sw = Stopwatch.StartNew();
        await run();
        return sw.Elapsed.TotalSeconds;
    }

    private static async Task LandParquetAsync(string input, string output, int chunk)
    {
        var spec = new ParquetDestinationSpec(output, new StoreOptions(), ["ingestion_date", "load_type"], "zstd", 0);
        await using var destination = ParquetDestination.Create(spec, new LocalBlobStore(output), "bench");
        var run = new RunContext(Guid.NewGuid(), "bench", TimeProvider.System.GetUtcNow());
        await destination.PrepareAsync(run, CancellationToken.None);
        var journal = new ParquetBench.NullJournal();
        await ParquetBench.FeedAsync(input, chunk, c => ParquetBench.LandAsync(destination, run, c, journal));
    }

    /// <summary>The bench's Iceberg destination over <paramref name="output"/> (an unpartitioned table, 128 MB target files).</summary>
    internal static IcebergDestination Destination(string output)
    {
        var source = new NoaaSourceSpec("http://127.0.0.1:9", "bench", "PRECIP", ["COOP:1"], ["QPCP"], null, DateTimeOffset.UnixEpoch, null, new IsoPeriod(1, TimeSpan.Zero, "P1M"), 1000, 10);
        var pipeline = new PipelineSpec("bench", null, null, true, null, [source], HttpSpec.Default, [], null, [], Path.Combine(output, "bench.yaml"));
        var spec = new IcebergDestinationSpec(output, new StoreOptions(), CatalogSpec.DefaultFor(output), "ingot", "bronze", "{pipeline}_{stream}", [], 128L << 20);
        return new IcebergDestination(spec, new LocalBlobStore(output), pipeline, TimeProvider.System);
    }

    /// <summary>Lands the input's chunks as units into the table under <paramref name="output"/>, a group commit per <c>GroupSize</c> units.</summary>
    internal static async Task LandIcebergAsync(string warehouse, string output, int chunk)
    {
        await using var destination = Destination(output);
        var run = new RunContext(Guid.NewGuid(), "bench", TimeProvider.System.GetUtcNow());
        await destination.PrepareAsync(run, CancellationToken.None);
        var journal = new ParquetBench.NullJournal();
        // Group commit as the engine runs it: the lander that fills the group commits it while the others wait.
        using var gate = new SemaphoreSlim(1, 1);
        var staged = new List<(WorkUnit, Receipt)>();
        async Task FlushAsync()
        {
            if (staged.Count == 0) return;
            await destination.CommitGroupAsync(run, [.. staged], CancellationToken.None);
            staged.Clear();
        }
        await ParquetBench.FeedAsync(warehouse, chunk, async c =>
        {
            var receipt = await ParquetBench.LandAsync(destination, run, c, journal);
            await gate.WaitAsync();
            try
            {
                staged.Add((c.Unit, receipt));
                if (staged.Count >= destination.GroupSize) await FlushAsync();
            }
            finally
            {
                gate.Release();
            }
        });
        await FlushAsync();
    }
}
