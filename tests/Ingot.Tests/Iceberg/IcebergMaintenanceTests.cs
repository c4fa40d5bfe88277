using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Iceberg;
using Ingot.Sources;
using Ingot.Tests.Infrastructure;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.Iceberg;

/// <summary>Iceberg maintenance (<c>ingot iceberg … expire-snapshots | remove-orphans</c>) on a real table.</summary>
public sealed class IcebergMaintenanceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-iceberg-mnt-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Warehouse => Path.Combine(_dir, "wh");

    private IcebergDestination Create() => IcebergKit.Create(_dir, $"warehouse: {Warehouse}");

    private List<string> LiveIds(out JsonObject metadata)
    {
        var location = IcebergReaders.CatalogLocation(Path.Combine(Warehouse, "catalog.db"), "ice_precip_15")!;
        metadata = IcebergReaders.Metadata(location);
        var files = IcebergReaders.LiveFiles(metadata).Select(f => f.Path).ToList();
        using var db = Ingot.DuckDb.DuckDbSession.Open();
        return db.Query($"SELECT id FROM read_parquet([{string.Join(", ", files.Select(Ingot.DuckDb.DuckDbSession.Literal))}], union_by_name = true)").Select(r => (string)r[0]!).ToList();
    }

    [Fact]
    public async Task ExpireSnapshots_KeepsTheLastAndTheLiveFiles_AndTheLakeStillKnowsEveryUnit()
    {
        // Given three snapshots: u0+u1, an overwrite of u1, then u2
        await using var d = Create();
        var run = IcebergKit.Run();
        await d.PrepareAsync(run, Ct);
        var first = await IcebergKit.StageAsync(d, run, "u1", IcebergKit.Records("u1", 30), new IcebergKit.Journal());
        await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, "u0", IcebergKit.Records("u0", 20), new IcebergKit.Journal()), first], Ct);
        await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, "u1", IcebergKit.Records("u1", 30), new IcebergKit.Journal())], Ct);
        await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, "u2", IcebergKit.Records("u2", 10), new IcebergKit.Journal())], Ct);
        await Task.Delay(50, Ct);

        // When a dry run, then the real expiry, keep only the last snapshot
        var dry = await d.ExpireSnapshotsAsync("precip_15", TimeSpan.FromMilliseconds(10), 1, dryRun: true, Ct);
        LiveIds(out var unchanged);
        unchanged["snapshots"]!.AsArray().Count.ShouldBe(3, "a dry run changes nothing");
        var result = await d.ExpireSnapshotsAsync("precip_15", TimeSpan.FromMilliseconds(10), 1, dryRun: false, Ct);

        // Then two snapshots are gone with the files only they read (u1's first data file among them), the table still
        // reads every record once, and the units of the expired snapshots are still listed (carried)
        result.Snapshots.ShouldBe(2);
        result.Files.ShouldBe(dry.Files);
        result.Files.ShouldContain(f => f.EndsWith(first.Item2.Files[0].Path, StringComparison.Ordinal));
        File.Exists(Path.Combine(Warehouse, first.Item2.Files[0].Path)).ShouldBeFalse();
        var ids = LiveIds(out var metadata);
        metadata["snapshots"]!.AsArray().Count.ShouldBe(1);
        metadata["snapshot-log"]!.AsArray().Count.ShouldBe(1);
        ids.Count.ShouldBe(60);
        ids.Distinct().Count().ShouldBe(60);
        var location = IcebergReaders.CatalogLocation(Path.Combine(Warehouse, "catalog.db"), "ice_precip_15")!;
        (await IcebergReaders.IcebirdAsync(Warehouse, "bronze/ice_precip_15", location)).Count.ShouldBe(60);
        (await d.ListCommittedAsync("ice", ["precip_15"], details: true, Ct).Select(u => u.Key).ToListAsync(Ct)).Order().ShouldBe(["u0", "u1", "u2"]);

        // And a refresh of a unit whose record was carried is still an overwrite, not a second copy
        await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, "u0", IcebergKit.Records("u0", 20), new IcebergKit.Journal())], Ct);
        var after = LiveIds(out _);
        after.Count.ShouldBe(60);
        after.Distinct().Count().ShouldBe(60);
    }

    [Fact]
    public async Task RemoveOrphans_RemovesOnlyUnreferencedFilesOlderThanTheWindow()
    {
        // Given a table, an unreferenced file written four days ago and one written just now
        await using var d = Create();
        var run = IcebergKit.Run();
        await d.PrepareAsync(run, Ct);
        await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, "u0", IcebergKit.Records("u0", 20), new IcebergKit.Journal())], Ct);
        var data = Path.Combine(Warehouse, "bronze", "ice_precip_15", "data");
        var old = Path.Combine(data, "crashed-run-leftover.parquet");
        var fresh = Path.Combine(data, "being-written.parquet");
        await File.WriteAllTextAsync(old, "x", Ct);
        await File.WriteAllTextAsync(fresh, "x", Ct);
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-4));
        foreach (var f in Directory.EnumerateFiles(Path.Combine(Warehouse, "bronze"), "*", SearchOption.AllDirectories).Where(f => f != fresh))
            File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddDays(-4));

        // When orphans older than the default window (3 days) are removed
        var result = await d.RemoveOrphansAsync("precip_15", TimeSpan.FromDays(3), dryRun: false, Ct);

        // Then only the old unreferenced file went; the table's own files and the fresh file stay, and it still reads
        result.Files.Count.ShouldBe(1);
        File.Exists(old).ShouldBeFalse();
        File.Exists(fresh).ShouldBeTrue();
        LiveIds(out _).Count.ShouldBe(20);
    }
}
