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

/// <summary>
/// The Iceberg destination through its engine seam (stage a unit, commit a group), against a real SQLite catalog and
/// local warehouse: repeated units are overwritten not appended, concurrent writers retry and both land, schema changes
/// get new field ids, and an unwidenable type change is reported.
/// </summary>
public sealed class IcebergDestinationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-iceberg-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Warehouse => Path.Combine(_dir, "wh");

    private IcebergDestination Create(string partition = "[day(_event_ts)]") => IcebergKit.Create(_dir, $"warehouse: {Warehouse}\n    partition_by: {partition}");

    private static RunContext Run() => IcebergKit.Run();

    private static List<Record> Records(string key, int n, Func<int, string>? extra = null) => IcebergKit.Records(key, n, extra);

    private static Task<(WorkUnit, Receipt)> StageAsync(IcebergDestination d, RunContext run, string key, List<Record> records, IFileJournal journal) =>
        IcebergKit.StageAsync(d, run, key, records, journal);

    private sealed class Journal : IcebergKit.Journal;

    private (JsonObject Metadata, List<string> Ids) Read()
    {
        var location = IcebergReaders.CatalogLocation(Path.Combine(Warehouse, "catalog.db"), "ice_precip_15")!;
        var metadata = IcebergReaders.Metadata(location);
        var files = IcebergReaders.LiveFiles(metadata).Select(f => f.Path).ToList();
        using var db = Ingot.DuckDb.DuckDbSession.Open();
        var ids = db.Query($"SELECT id FROM read_parquet([{string.Join(", ", files.Select(Ingot.DuckDb.DuckDbSession.Literal))}], union_by_name = true)").Select(r => (string)r[0]!).ToList();
        return (metadata, ids);
    }

    [Fact]
    public async Task CommitGroup_UnitAlreadyInASnapshot_IsOverwrittenNotAppendedTwice()
    {
        // Given a unit committed to the table (its state commit then lost: the engine lands it again)
        await using var d = Create();
        var run = Run();
        await d.PrepareAsync(run, Ct);
        var first = await StageAsync(d, run, "u1", Records("u1", 50), new Journal());
        var other = await StageAsync(d, run, "u0", Records("u0", 20), new Journal());
        await d.CommitGroupAsync(run, [other, first], Ct);

        // When the same unit is staged and committed again by the next run
        await using var again = Create();
        var rerun = Run();
        await again.PrepareAsync(rerun, Ct);
        var journal = new Journal();
        var second = await StageAsync(again, rerun, "u1", Records("u1", 50), journal);
        var receipts = await again.CommitGroupAsync(rerun, [second], Ct);

        // Then the table holds its records once (the other unit's kept as EXISTING entries), by an overwrite snapshot, for
        // DuckDB over the live files and for icebird alike, and lists the unit once with the new run
        var (metadata, ids) = Read();
        ids.Count.ShouldBe(70);
        ids.Distinct().Count().ShouldBe(70);
        var location = IcebergReaders.CatalogLocation(Path.Combine(Warehouse, "catalog.db"), "ice_precip_15")!;
        var icebird = await IcebergReaders.IcebirdAsync(Warehouse, "bronze/ice_precip_15", location);
        icebird.Select(r => r.GetProperty("id").GetString()).Distinct().Count().ShouldBe(70);
        icebird.Count.ShouldBe(70);
        var snapshots = metadata["snapshots"]!.AsArray();
        snapshots.Count.ShouldBe(2);
        snapshots[1]!["summary"]!["operation"]!.GetValue<string>().ShouldBe("overwrite");
        snapshots[1]!["summary"]!["deleted-records"]!.GetValue<string>().ShouldBe("50");
        receipts.Single().Token.ShouldBe(metadata["current-snapshot-id"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture));
        var listed = await again.ListCommittedAsync("ice", ["precip_15"], details: true, Ct).ToListAsync(Ct);
        listed.Select(u => u.Key).Order().ShouldBe(["u0", "u1"]);
        listed.Single(u => u.Key == "u1").RunId.ShouldBe(rerun.RunId);

        // And the first attempt's files are kept for the older snapshot (deleting them is refused), a never-committed file goes
        var old = first.Item2.Files[0].Path;
        await again.DeleteAsync(old, Ct);
        File.Exists(Path.Combine(Warehouse, old)).ShouldBeTrue();
        var orphan = await StageAsync(again, rerun, "u2", Records("u2", 5), new Journal());
        await again.DeleteAsync(orphan.Item2.Files[0].Path, Ct);
        File.Exists(Path.Combine(Warehouse, orphan.Item2.Files[0].Path)).ShouldBeFalse();
    }

    [Fact]
    public async Task CommitGroup_TwoWritersAtOnce_OneRetriesAndBothLand()
    {
        // Given two writers (two processes' destinations) on one table
        await using var a = Create();
        await using var b = Create();
        var (ra, rb) = (Run(), Run());
        await a.PrepareAsync(ra, Ct);
        await b.PrepareAsync(rb, Ct);
        // The table exists first (two writers creating it race on the catalog's INSERT, which retries the same way).
        await a.CommitGroupAsync(ra, [await StageAsync(a, ra, "seed", Records("seed", 3), new Journal())], Ct);

        // When both commit groups at the same moment, round after round
        var expected = 3;
        for (var round = 0; round < 20 && a.CommitRetries + b.CommitRetries == 0; round++)
        {
            var ua = await StageAsync(a, ra, $"a{round}", Records($"a{round}", 10), new Journal());
            var ub = await StageAsync(b, rb, $"b{round}", Records($"b{round}", 10), new Journal());
            using var go = new ManualResetEventSlim();
            var ta = Task.Run(async () => { go.Wait(Ct); await a.CommitGroupAsync(ra, [ua], Ct); }, Ct);
            var tb = Task.Run(async () => { go.Wait(Ct); await b.CommitGroupAsync(rb, [ub], Ct); }, Ct);
            go.Set();
            await Task.WhenAll(ta, tb);
            expected += 20;
        }

        // Then one of them lost the compare-and-swap and retried, and every record of both is in the table once
        (a.CommitRetries + b.CommitRetries).ShouldBeGreaterThan(0);
        var (metadata, ids) = Read();
        ids.Count.ShouldBe(expected);
        ids.Distinct().Count().ShouldBe(expected);
        metadata["snapshots"]!.AsArray().Count.ShouldBe(1 + (expected - 3) / 10);
    }

    [Fact]
    public async Task Stage_NewRecordField_IsASchemaChangeWithANewFieldId()
    {
        // Given a table landed without the field 'quality'
        await using var d = Create();
        var run = Run();
        await d.PrepareAsync(run, Ct);
        await d.CommitGroupAsync(run, [await StageAsync(d, run, "u1", Records("u1", 5), new Journal())], Ct);
        var before = Read().Metadata;
        var lastColumnId = before["last-column-id"]!.GetValue<int>();

        // When a unit brings it
        await d.CommitGroupAsync(run, [await StageAsync(d, run, "u2", Records("u2", 5, i => $",\"quality\":\"q{i}\""), new Journal())], Ct);

        // Then the table has a new current schema with the field under a new id, and the old files still read (as null)
        var (metadata, ids) = Read();
        metadata["schemas"]!.AsArray().Count.ShouldBe(2);
        metadata["current-schema-id"]!.GetValue<int>().ShouldBe(1);
        var quality = metadata["schemas"]![1]!["fields"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == "quality")!;
        quality["id"]!.GetValue<int>().ShouldBe(lastColumnId + 1);
        metadata["last-column-id"]!.GetValue<int>().ShouldBe(lastColumnId + 1);
        ids.Count.ShouldBe(10);
    }

    [Fact]
    public async Task Stage_FractionsIntoALongColumn_FailsTheUnitNamingTheColumn()
    {
        // Given a table whose 'value' column is long
        await using var d = Create();
        var run = Run();
        await d.PrepareAsync(run, Ct);
        await d.CommitGroupAsync(run, [await StageAsync(d, run, "u1", Records("u1", 5), new Journal())], Ct);

        // When a unit brings fractional values for it
        var bad = Enumerable.Range(0, 3).Select(i => Record.FromUtf8(Encoding.UTF8.GetBytes($"{{\"id\":\"x{i}\",\"value\":{i}.5}}"), DateTimeOffset.UtcNow)).ToList();
        var error = await Should.ThrowAsync<InvalidDataException>(() => StageAsync(d, run, "u2", bad, new Journal()));

        // Then the unit fails with the column, the types and the chunk, and nothing was written for it
        error.Message.ShouldContain("'value'");
        error.Message.ShouldContain("long");
        error.Message.ShouldContain("u2");
    }
}

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

/// <summary>Builds the Iceberg destination from a pipeline file and stages units through its writer, as the engine does.</summary>
internal static class IcebergKit
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static IcebergDestination Create(string dir, string destination)
    {
        var yaml = $"""
            name: ice
            source:
              type: noaa-cdo
              base_url: http://127.0.0.1:9
              token: t
              dataset: PRECIP_15
              stations: [COOP:010008]
              datatypes: [QPCP]
              start: 2010-01-01T00:00:00Z
              end: 2010-02-01T00:00:00Z
            destinations:
              - type: iceberg
                {destination}
            """;
        var spec = TestPipelines.Parse(yaml, Path.Combine(dir, "p.yaml"), _ => null);
        return (IcebergDestination)new IcebergConnector().Create(spec.Destinations[0], new DestinationServices(spec, TimeProvider.System, TestPipelines.Connectors.Stores));
    }

    public static RunContext Run() => new(Guid.NewGuid(), "ice", DateTimeOffset.UtcNow);

    public static WorkUnit Unit(string key) => new(key, "precip_15", "noaa-cdo", "noaa-cdo",
        new TimeWindowBounds(new DateTimeOffset(2010, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2010, 1, 2, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2010, 1, 2, 0, 0, 0, TimeSpan.Zero), []),
        UnitIdentity.Of(("test", "1")));

    public static List<Record> Records(string key, int n, Func<int, string>? extra = null) => Enumerable.Range(0, n).Select(i =>
    {
        var ts = new DateTimeOffset(2010, 1, 1 + i % 3, i % 24, 0, 0, TimeSpan.Zero);
        var json = $"{{\"id\":\"{key}-{i}\",\"value\":{i}{extra?.Invoke(i) ?? ""}}}";
        return Record.FromUtf8(Encoding.UTF8.GetBytes(json), ts);
    }).ToList();

    public class Journal : IFileJournal
    {
        public ConcurrentBag<string> Paths { get; } = [];

        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken)
        {
            foreach (var p in paths) Paths.Add(p);
            return Task.CompletedTask;
        }
    }

    public static async Task<(WorkUnit, Receipt)> StageAsync(IcebergDestination d, RunContext run, string key, List<Record> records, IFileJournal journal)
    {
        var unit = Unit(key);
        await using var writer = await d.BeginAsync(run, unit, journal, Ct);
        var body = Encoding.UTF8.GetBytes("[]");
        await writer.WriteAsync(new FetchedPage(key, body, "test://", 200, DateTimeOffset.UtcNow, records), Ct);
        return (unit, await writer.CompleteAsync(new UnitTotals(records.Count, 0, 1, body.Length), Ct));
    }
}

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
