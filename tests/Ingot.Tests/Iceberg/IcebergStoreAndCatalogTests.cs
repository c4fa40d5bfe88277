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

/// <summary>An Iceberg warehouse on S3 (s3rver) through the project's blob store, with the SQLite catalog on local disk.</summary>
public sealed class IcebergS3Tests(S3rverFixture s3) : IClassFixture<S3rverFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-iceberg-s3-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task CommitGroup_OnS3_TableVerifiesAndListsItsUnits()
    {
        // Given a warehouse under s3:// and two units committed as one snapshot
        var root = s3.NewRoot("ice");
        var o = s3.StoreOptions();
        await using var d = IcebergKit.Create(_dir, $"warehouse: {root}\n    catalog: sqlite:///{_dir.TrimStart('/')}/catalog.db\n    endpoint: {o.Endpoint}\n    region: {o.Region}\n    path_style: true\n    access_key: {o.AccessKey}\n    secret_key: {o.SecretKey}\n    partition_by: [day(_event_ts)]");
        var run = IcebergKit.Run();
        await d.PrepareAsync(run, Ct);
        var a = await IcebergKit.StageAsync(d, run, "s1", IcebergKit.Records("s1", 40), new IcebergKit.Journal());
        var b = await IcebergKit.StageAsync(d, run, "s2", IcebergKit.Records("s2", 30), new IcebergKit.Journal());
        var receipts = await d.CommitGroupAsync(run, [a, b], Ct);

        // Then the data files, manifests and metadata are objects in the bucket, and verify finds every live file as listed
        receipts.Select(r => r.Token).Distinct().Count().ShouldBe(1);
        var report = await d.VerifyAsync("ice", [new DoneUnit("s1", "precip_15", 40), new DoneUnit("s2", "precip_15", 30)], Ct);
        report.Problems.ShouldBeEmpty();
        report.FilesChecked.ShouldBe(a.Item2.Files.Count + b.Item2.Files.Count);
        var units = await d.ListCommittedAsync("ice", ["precip_15"], details: true, Ct).ToListAsync(Ct);
        units.Select(u => u.Key).Order().ShouldBe(["s1", "s2"]);
        units.Sum(u => u.Records).ShouldBe(70);
    }

    [Fact]
    public async Task CompactThenRemoveOrphans_OnS3_MergesTheFilesAndTakesOnlyOldUnreferencedObjects()
    {
        // Given a table on s3:// of four units, one commit each (four small files in each of three day partitions)
        var root = s3.NewRoot("ice");
        var o = s3.StoreOptions();
        await using var d = IcebergKit.Create(_dir, $"warehouse: {root}\n    catalog: sqlite:///{_dir.TrimStart('/')}/catalog.db\n    endpoint: {o.Endpoint}\n    region: {o.Region}\n    path_style: true\n    access_key: {o.AccessKey}\n    secret_key: {o.SecretKey}\n    partition_by: [day(_event_ts)]");
        var run = IcebergKit.Run();
        await d.PrepareAsync(run, Ct);
        string[] keys = ["s1", "s2", "s3", "s4"];
        foreach (var k in keys) await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, k, IcebergKit.Records(k, 15), new IcebergKit.Journal())], Ct);
        using var store = new Ingot.S3.S3BlobStore(root, o);

        // When it is compacted (the inputs read from the bucket, the new files put there)
        var compacted = await d.CompactAsync("precip_15", dryRun: false, Ct);

        // Then each partition's four files are one, and the table verifies with every unit's records
        (compacted.FilesBefore, compacted.FilesAfter).ShouldBe((12, 3));
        var done = keys.Select(k => new DoneUnit(k, "precip_15", 15)).ToList();
        (await d.VerifyAsync("ice", done, Ct)).Problems.ShouldBeEmpty();

        // When an unreferenced object is written, time passes, a second one is written, and orphans older than the window go
        var table = "bronze/ice_precip_15";
        await store.WriteAsync($"{table}/data/crashed-run-leftover.parquet", new byte[] { 1 }, Ct);
        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        await store.WriteAsync($"{table}/data/being-written.parquet", new byte[] { 2 }, Ct);
        var referenced = new List<string>();
        await foreach (var b in store.ListAsync(table + "/", Ct)) if (!b.Path.EndsWith("crashed-run-leftover.parquet", StringComparison.Ordinal) && !b.Path.EndsWith("being-written.parquet", StringComparison.Ordinal)) referenced.Add(b.Path);
        var dry = await d.RemoveOrphansAsync("precip_15", TimeSpan.FromSeconds(1.5), dryRun: true, Ct);
        var removed = await d.RemoveOrphansAsync("precip_15", TimeSpan.FromSeconds(1.5), dryRun: false, Ct);

        // Then only the old orphan went (by its LastModified from ListObjectsV2); the young one and every file the table's
        // snapshots reference (the compacted-away files too: the older snapshots still read them) stay, and it still verifies
        dry.Files.ShouldBe(removed.Files);
        removed.Files.ShouldHaveSingleItem().ShouldEndWith($"{table}/data/crashed-run-leftover.parquet");
        var left = new List<string>();
        await foreach (var b in store.ListAsync(table + "/", Ct)) left.Add(b.Path);
        left.ShouldNotContain(p => p.EndsWith("crashed-run-leftover.parquet", StringComparison.Ordinal));
        left.ShouldContain(p => p.EndsWith("being-written.parquet", StringComparison.Ordinal));
        foreach (var p in referenced) left.ShouldContain(p);
        (await d.VerifyAsync("ice", done, Ct)).Problems.ShouldBeEmpty();
    }
}

/// <summary>The SQL catalog on a real PostgreSQL (the JDBC/PyIceberg tables), with two writers racing on one table.</summary>
public sealed class IcebergPostgresCatalogTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-iceberg-pg-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task CommitGroup_PostgresCatalog_RegistersTheTableAndMovesItsMetadataLocation()
    {
        // Given a PostgreSQL catalog (password in the connection string) and two writers creating one table at once
        var connection = await pg.CreateDatabaseAsync("ice");
        var destination = $"warehouse: {Path.Combine(_dir, "wh")}\n    catalog: \"{connection}\"";
        await using var a = IcebergKit.Create(_dir, destination);
        await using var b = IcebergKit.Create(_dir, destination);
        var (ra, rb) = (IcebergKit.Run(), IcebergKit.Run());
        await a.PrepareAsync(ra, Ct);
        await b.PrepareAsync(rb, Ct);
        var ua = await IcebergKit.StageAsync(a, ra, "a1", IcebergKit.Records("a1", 10), new IcebergKit.Journal());
        var ub = await IcebergKit.StageAsync(b, rb, "b1", IcebergKit.Records("b1", 10), new IcebergKit.Journal());

        // When both commit (the second finds the table created under it, or the first swap taken)
        await Task.WhenAll(a.CommitGroupAsync(ra, [ua], Ct), b.CommitGroupAsync(rb, [ub], Ct));

        // Then the catalog holds one table whose metadata names both units, with the previous location kept
        var rows = await PostgresFixture.QueryAsync(connection, "SELECT metadata_location || '|' || coalesce(previous_metadata_location, '') || '|' || iceberg_type FROM iceberg_tables");
        rows.Count.ShouldBe(1);
        var parts = rows[0]!.Split('|');
        parts[1].ShouldNotBeEmpty();
        parts[2].ShouldBe("TABLE");
        var units = await a.ListCommittedAsync("ice", ["precip_15"], details: false, Ct).Select(u => u.Key).ToListAsync(Ct);
        units.Order().ShouldBe(["a1", "b1"]);
        (await PostgresFixture.QueryAsync(connection, "SELECT property_value FROM iceberg_namespace_properties WHERE namespace = 'bronze' AND property_key = 'exists'")).ShouldBe(["true"]);
        a.Where("ice").ShouldNotContain(PostgresFixture.SuperPassword);
    }
}
