using System.Globalization;
using Ingot.Connectors;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.Iceberg;
using Ingot.Iceberg.Table;
using Ingot.Storage;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.Iceberg;

/// <summary>
/// <see cref="IcebergDestination.AggregateAsync"/> in-process: on an S3 warehouse (files read through the blob store), and
/// with two aggregators and an ingest committing at once (the result always equals the bronze snapshot its watermark names).
/// </summary>
public sealed class IcebergAggregatesTests(S3rverFixture s3) : IClassFixture<S3rverFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-iceberg-agg-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private (IcebergDestination Destination, AggregateSpec Aggregate, IBlobStore Store) Create(string destination)
    {
        var spec = IcebergKit.Spec(_dir, destination, """
            aggregates:
              - name: agg
                group_by: [station]
                measures: {n: "count(*)", big: "count(*) FILTER (WHERE value >= 20)", total: "sum(value)"}
                derived: {share: "100.0 * big / n"}
            """);
        var d = (IcebergDestination)new IcebergConnector().Create(spec.Destinations[0], new DestinationServices(spec, TimeProvider.System, TestPipelines.Connectors.Stores));
        var s = (IcebergDestinationSpec)spec.Destinations[0];
        return (d, spec.Aggregates[0], TestPipelines.Connectors.Stores.Open(s.Warehouse, s.Store));
    }

    private static List<Records.Record> Records(string key, int n) => IcebergKit.Records(key, n, i => $",\"station\":\"S{i % 3}\"");

    /// <summary>What the aggregate must hold over units of the given sizes: per station n, big, total.</summary>
    private static Dictionary<string, (long N, long Big, double Total)> Expected(params int[] units)
    {
        var result = new Dictionary<string, (long, long, double)>();
        foreach (var size in units)
        {
            for (var i = 0; i < size; i++)
            {
                var (n, big, total) = result.GetValueOrDefault($"S{i % 3}");
                result[$"S{i % 3}"] = (n + 1, big + (i >= 20 ? 1 : 0), total + i);
            }
        }
        return result;
    }

    /// <summary>The result table read back through the store: catalog → metadata → manifest list → manifests → data files, read by DuckDB.</summary>
    private async Task<(Dictionary<string, (long N, long Big, double Total)> Rows, long Watermark)> ReadResultAsync(IBlobStore store)
    {
        var location = IcebergReaders.CatalogLocation(Path.Combine(_dir, "catalog.db"), "ice_agg").ShouldNotBeNull();
        async Task<byte[]> Read(string uri)
        {
            await using var stream = (await store.OpenReadAsync(Locations.Relative(store, uri)!, Ct)).ShouldNotBeNull(uri);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, Ct);
            return buffer.ToArray();
        }
        var metadata = TableMetadata.Parse(await Read(location), location);
        var snapshot = metadata.Snapshot(metadata.CurrentSnapshotId!.Value)!;
        var watermark = long.Parse(snapshot["summary"]![IcebergDestination.AggregateSourceKey]!.GetValue<string>(), CultureInfo.InvariantCulture);
        var rows = new Dictionary<string, (long, long, double)>();
        using var db = DuckDbSession.Open();
        foreach (var m in Manifests.ReadList(await Read(snapshot["manifest-list"]!.GetValue<string>())))
        {
            foreach (var e in Manifests.ReadManifest(await Read(m.Path), m).Entries.Where(e => e.Status != Manifests.Deleted))
            {
                var local = Path.Combine(_dir, $"{Guid.NewGuid():N}.parquet");
                await File.WriteAllBytesAsync(local, await Read(e.Path), Ct);
                foreach (var r in db.Query($"SELECT station, n, big, total, share FROM read_parquet({DuckDbSession.Literal(local)})"))
                {
                    var (n, big) = (Convert.ToInt64(r[1], CultureInfo.InvariantCulture), Convert.ToInt64(r[2], CultureInfo.InvariantCulture));
                    Convert.ToDouble(r[4], CultureInfo.InvariantCulture).ShouldBe(100.0 * big / n, 1e-9, "the derived share");
                    rows[(string)r[0]!] = (n, big, Convert.ToDouble(r[3], CultureInfo.InvariantCulture));
                }
            }
        }
        return (rows, watermark);
    }

    private static async Task<long> CommitAsync(IcebergDestination d, string key, int n)
    {
        var run = IcebergKit.Run();
        await d.PrepareAsync(run, Ct);
        var staged = await IcebergKit.StageAsync(d, run, key, Records(key, n), new IcebergKit.Journal());
        var receipts = await d.CommitGroupAsync(run, [staged], Ct);
        return long.Parse(receipts[0].Token!, CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task AggregateAsync_OnS3Warehouse_ReadsTheDeltaThroughTheStoreAndMerges()
    {
        // Given a warehouse under s3:// holding one unit, aggregated
        var o = s3.StoreOptions();
        var (d, aggregate, store) = Create($"warehouse: {s3.NewRoot("agg")}\n    catalog: sqlite:///{_dir.TrimStart('/')}/catalog.db\n    endpoint: {o.Endpoint}\n    region: {o.Region}\n    path_style: true\n    access_key: {o.AccessKey}\n    secret_key: {o.SecretKey}");
        await using (d)
        {
            await CommitAsync(d, "s1", 40);
            (await d.AggregateAsync(aggregate, full: false, Ct)).Mode.ShouldBe("full");

            // When a second unit lands and the aggregate runs again
            var snapshot = await CommitAsync(d, "s2", 30);
            var outcome = await d.AggregateAsync(aggregate, full: false, Ct);

            // Then it read only the new file (through the store) and the result table in the bucket holds both units
            outcome.Mode.ShouldBe("incremental");
            (outcome.AddedFiles, outcome.RemovedFiles, outcome.Groups).ShouldBe((1, 0, 3L));
            var (rows, watermark) = await ReadResultAsync(store);
            watermark.ShouldBe(snapshot);
            rows.ShouldBe(Expected(40, 30));
        }
    }

    [Fact]
    public async Task AggregateAsync_TwoAggregatorsAndAnIngestAtOnce_ResultAlwaysMatchesItsWatermark()
    {
        // Given a local table with one unit, two aggregators and a writer, each its own destination instance
        var destination = $"warehouse: {Path.Combine(_dir, "wh")}\n    catalog: sqlite:///{_dir.TrimStart('/')}/catalog.db";
        var (a, aggregate, store) = Create(destination);
        var (b, _, _) = Create(destination);
        var (writer, _, _) = Create(destination);
        await using (a)
        await using (b)
        await using (writer)
        {
            var first = await CommitAsync(writer, "s1", 40);

            // When both aggregate while the writer commits a second unit
            var second = CommitAsync(writer, "s2", 30);
            await Task.WhenAll(a.AggregateAsync(aggregate, full: false, Ct), b.AggregateAsync(aggregate, full: false, Ct), second);

            // Then the result is exactly the aggregate of the snapshot its watermark names (never a mix, never counted twice)
            var (rows, watermark) = await ReadResultAsync(store);
            watermark.ShouldBeOneOf(first, await second);
            rows.ShouldBe(watermark == first ? Expected(40) : Expected(40, 30));

            // And one more aggregate brings it to the current snapshot
            await a.AggregateAsync(aggregate, full: false, Ct);
            (rows, watermark) = await ReadResultAsync(store);
            watermark.ShouldBe(await second);
            rows.ShouldBe(Expected(40, 30));
        }
    }
}
