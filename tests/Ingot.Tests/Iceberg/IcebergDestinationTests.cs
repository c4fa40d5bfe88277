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
