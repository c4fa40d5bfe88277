using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Avro.Generic;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.Iceberg;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.Iceberg;

/// <summary>
/// <c>ingot iceberg … compact</c> on a real table: small files merged per partition into one <c>replace</c> snapshot, read
/// back by DuckDB over the live files and by icebird; a unit replaced after compaction (copy-on-write of the compacted
/// files), verify over compacted files, and a compaction racing an ingest commit.
/// </summary>
public sealed class IcebergCompactionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-iceberg-compact-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string Stream = "precip_15";
    private static readonly string[] Keys = ["u0", "u1", "u2", "u3", "u4", "u5"];

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Warehouse => Path.Combine(_dir, "wh");

    private IcebergDestination Create() => IcebergKit.Create(_dir, $"warehouse: {Warehouse}\n    partition_by: [day(_event_ts)]");

    private string Location() => IcebergReaders.CatalogLocation(Path.Combine(Warehouse, "catalog.db"), "ice_precip_15")!;

    private JsonObject Metadata() => IcebergReaders.Metadata(Location());

    /// <summary>Every row DuckDB reads from exactly the live data files, as text, sorted (a multiset).</summary>
    private List<string> LiveRows(out List<string> files)
    {
        files = IcebergReaders.LiveFiles(Metadata()).Select(f => f.Path).ToList();
        using var db = DuckDbSession.Open();
        return db.Query($"SELECT id, value, _chunk_key, CAST(_event_ts AS VARCHAR), _ingestion_id FROM read_parquet([{string.Join(", ", files.Select(DuckDbSession.Literal))}], union_by_name = true)")
            .Select(r => string.Join('|', r.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)))).Order(StringComparer.Ordinal).ToList();
    }

    private async Task<List<string>> IcebirdIdsAsync() =>
        (await IcebergReaders.IcebirdAsync(Warehouse, "bronze/ice_precip_15", Location())).Select(r => r.GetProperty("id").GetString()!).Order(StringComparer.Ordinal).ToList();

    /// <summary>Six units, each its own commit, each 30 records over three days: three small files per unit, six per partition.</summary>
    private async Task<IcebergDestination> LandSixUnitsAsync()
    {
        var d = Create();
        var run = IcebergKit.Run();
        await d.PrepareAsync(run, Ct);
        foreach (var key in Keys)
            await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, key, IcebergKit.Records(key, 30), new IcebergKit.Journal())], Ct);
        return d;
    }

    [Fact]
    public async Task Compact_SmallFilesPerPartition_OneReplaceSnapshotWithTheSameRowsSortedByChunkKey()
    {
        // Given six units landed one commit each: 18 small files, six in each of three day partitions
        await using var d = await LandSixUnitsAsync();
        var before = LiveRows(out var oldFiles);
        oldFiles.Count.ShouldBe(18);
        var icebirdBefore = await IcebirdIdsAsync();
        var location = Location();

        // When a dry run, then the compaction, run
        var dry = await d.CompactAsync(Stream, dryRun: true, Ct);
        Location().ShouldBe(location, "a dry run writes nothing");
        var result = await d.CompactAsync(Stream, dryRun: false, Ct);

        // Then the dry run named the merge it would do, and the compaction did it: 18 files → 3, one per partition
        dry.DryRun.ShouldBeTrue();
        dry.Groups.Count.ShouldBe(3);
        dry.Groups.ShouldAllBe(g => g.Inputs.Count == 6 && g.Records == 60);
        (dry.FilesBefore, dry.FilesAfter).ShouldBe((18, 3));
        (result.FilesBefore, result.FilesAfter).ShouldBe((18, 3));
        result.Groups.Select(g => g.Inputs.Order(StringComparer.Ordinal)).ShouldBe(dry.Groups.Select(g => g.Inputs.Order(StringComparer.Ordinal)));
        result.BytesAfter.ShouldBeLessThan(result.BytesBefore);

        // And DuckDB over the live files and icebird read exactly the same rows as before
        LiveRows(out var newFiles).ShouldBe(before);
        (await IcebirdIdsAsync()).ShouldBe(icebirdBefore);
        newFiles.Count.ShouldBe(3);
        newFiles.ShouldAllBe(f => Path.GetFileName(f).StartsWith("compacted-", StringComparison.Ordinal));

        // And it is one replace snapshot with the right summary and sequence numbers: old entries DELETED by it (their
        // sequence numbers kept), the new ones ADDED and inheriting its sequence number
        var metadata = Metadata();
        var snapshots = metadata["snapshots"]!.AsArray();
        snapshots.Count.ShouldBe(7);
        var snapshot = snapshots[^1]!;
        var id = snapshot["snapshot-id"]!.GetValue<long>();
        snapshot["sequence-number"]!.GetValue<long>().ShouldBe(7);
        metadata["last-sequence-number"]!.GetValue<long>().ShouldBe(7);
        var summary = snapshot["summary"]!.AsObject();
        summary["operation"]!.GetValue<string>().ShouldBe("replace");
        foreach (var (k, v) in new[] { ("added-data-files", "3"), ("deleted-data-files", "18"), ("added-records", "180"), ("deleted-records", "180"), ("total-records", "180"), ("total-data-files", "3"), ("changed-partition-count", "3") })
            summary[k]!.GetValue<string>().ShouldBe(v, k);
        summary.ContainsKey(IcebergDestination.UnitsKey).ShouldBeFalse("a compaction lands no unit");
        long.Parse(summary["total-files-size"]!.GetValue<string>(), CultureInfo.InvariantCulture).ShouldBe(newFiles.Sum(f => new FileInfo(f).Length));
        var list = IcebergReaders.Avro(snapshot["manifest-list"]!.GetValue<string>());
        list.Meta["format-version"].ShouldBe("2");
        list.Meta["sequence-number"].ShouldBe("7");
        list.Meta["avro.codec"].ShouldBe("deflate");
        list.Schema["name"]!.GetValue<string>().ShouldBe("manifest_file");
        list.Schema["fields"]!.AsArray().ShouldAllBe(f => f!["field-id"] != null);
        var deleted = 0;
        foreach (var m in list.Records)
        {
            var manifest = IcebergReaders.Avro((string)m["manifest_path"]);
            manifest.Schema["name"]!.GetValue<string>().ShouldBe("manifest_entry");
            manifest.Meta["content"].ShouldBe("data");
            ((long)m["min_sequence_number"]).ShouldBeLessThanOrEqualTo((long)m["sequence_number"]);
            foreach (var key in new[] { "schema", "schema-id", "partition-spec", "partition-spec-id", "format-version", "content" }) manifest.Meta.ShouldContainKey(key);
            foreach (var e in manifest.Records)
            {
                var status = (int)e["status"];
                if (status == 1)
                {
                    ((long)m["added_snapshot_id"]).ShouldBe(id);
                    ((long)m["sequence_number"]).ShouldBe(7);
                    e["sequence_number"].ShouldBeNull("ADDED entries inherit the snapshot's sequence number");
                }
                else
                {
                    status.ShouldBe(2);
                    deleted++;
                    ((long)e["snapshot_id"]).ShouldBe(id);
                    ((long)e["sequence_number"]).ShouldBeInRange(1, 6);
                }
            }
        }
        deleted.ShouldBe(18);

        // And every new file carries the table's field ids, its partition, tight _chunk_key bounds, and rows in _chunk_key order
        var fields = metadata["schemas"]!.AsArray().Last()!["fields"]!.AsArray().ToDictionary(f => f!["name"]!.GetValue<string>(), f => f!["id"]!.GetValue<int>());
        using var db = DuckDbSession.Open();
        foreach (var (path, entry) in IcebergReaders.LiveFiles(metadata))
        {
            var schema = db.Query($"SELECT name, field_id FROM parquet_schema({DuckDbSession.Literal(path)}) WHERE name IN ({string.Join(", ", fields.Keys.Select(DuckDbSession.Literal))})");
            schema.Count.ShouldBe(fields.Count, path);
            foreach (var r in schema) Convert.ToInt32(r[1], CultureInfo.InvariantCulture).ShouldBe(fields[(string)r[0]!], $"{path}: {r[0]}");
            var file = (GenericRecord)entry["data_file"];
            var day = (DateTime)((GenericRecord)file["partition"])["_event_ts_day"];
            var rows = db.Query($"SELECT _chunk_key, value, CAST(_event_ts AS DATE) FROM read_parquet({DuckDbSession.Literal(path)})").ToList();
            rows.Select(r => (string)r[0]!).ShouldBe(rows.Select(r => (string)r[0]!).Order(StringComparer.Ordinal), "sorted by _chunk_key");
            foreach (var unit in rows.GroupBy(r => (string)r[0]!))
                unit.Select(r => Convert.ToInt64(r[1], CultureInfo.InvariantCulture)).ShouldBe(unit.Select(r => Convert.ToInt64(r[1], CultureInfo.InvariantCulture)).Order(), "then in the unit's own order");
            rows.Select(r => (DateOnly)r[2]!).Distinct().Single().ShouldBe(DateOnly.FromDateTime(day), "the file's partition is its rows' day");
            var chunkKeyId = fields["_chunk_key"];
            Bound(file, "lower_bounds", chunkKeyId).ShouldBe("u0");
            Bound(file, "upper_bounds", chunkKeyId).ShouldBe("u5");
            ((long)file["record_count"]).ShouldBe(60);
        }

        // And verify passes, the lake still lists every unit, and a second compaction finds nothing to merge
        (await d.VerifyAsync("ice", Keys.Select(k => new DoneUnit(k, Stream, 30)).ToList(), Ct)).Problems.ShouldBeEmpty();
        (await d.ListCommittedAsync("ice", [Stream], details: true, Ct).Select(u => u.Key).ToListAsync(Ct)).Order().ShouldBe(Keys);
        var again = await d.CompactAsync(Stream, dryRun: false, Ct);
        again.Groups.ShouldBeEmpty();
        Metadata()["snapshots"]!.AsArray().Count.ShouldBe(7);
    }

    [Fact]
    public async Task Compact_FilesWrittenUnderTwoSchemas_OneFileUnderTheCurrentSchemaWithItsFieldIds()
    {
        // Given a unit without the field 'quality', then one that brought it (a new schema, a new field id)
        await using var d = Create();
        var run = IcebergKit.Run();
        await d.PrepareAsync(run, Ct);
        await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, "u0", IcebergKit.Records("u0", 9), new IcebergKit.Journal())], Ct);
        await d.CommitGroupAsync(run, [await IcebergKit.StageAsync(d, run, "u1", IcebergKit.Records("u1", 9, i => $",\"quality\":\"q{i}\""), new IcebergKit.Journal())], Ct);
        using var db = DuckDbSession.Open();
        string Quality() => string.Join(",", db.Query($"SELECT id, quality FROM read_parquet([{string.Join(", ", IcebergReaders.LiveFiles(Metadata()).Select(f => DuckDbSession.Literal(f.Path)))}], union_by_name = true) ORDER BY id")
            .Select(r => $"{r[0]}={r[1] ?? "null"}"));
        var before = Quality();

        // When it is compacted
        var result = await d.CompactAsync(Stream, dryRun: false, Ct);

        // Then each day's two files are one holding both units' rows ('quality' null where it was absent), with the field's id
        (result.FilesBefore, result.FilesAfter).ShouldBe((6, 3));
        Quality().ShouldBe(before);
        var metadata = Metadata();
        var quality = metadata["schemas"]!.AsArray().Last()!["fields"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == "quality")!["id"]!.GetValue<int>();
        foreach (var (path, _) in IcebergReaders.LiveFiles(metadata))
            Convert.ToInt32(db.Scalar($"SELECT field_id FROM parquet_schema({DuckDbSession.Literal(path)}) WHERE name = 'quality'"), CultureInfo.InvariantCulture).ShouldBe(quality, path);
        metadata["schemas"]!.AsArray().Count.ShouldBe(2, "compaction adds no schema");
        (await d.VerifyAsync("ice", [new DoneUnit("u0", Stream, 9), new DoneUnit("u1", Stream, 9)], Ct)).Problems.ShouldBeEmpty();
    }

    private static string? Bound(GenericRecord file, string field, int id) =>
        ((object[])file[field]).Cast<GenericRecord>().Where(p => (int)p["key"] == id).Select(p => Encoding.UTF8.GetString((byte[])p["value"])).SingleOrDefault();

    [Fact]
    public async Task Refresh_AfterCompaction_ReplacesExactlyThatUnitsRowsInTheCompactedFiles()
    {
        // Given six units compacted into one file per partition
        await using var d = await LandSixUnitsAsync();
        await d.CompactAsync(Stream, dryRun: false, Ct);
        var before = LiveRows(out _);

        // When unit u2 lands again (a refresh, by another run, with 45 records instead of 30)
        await using var again = Create();
        var rerun = IcebergKit.Run();
        await again.PrepareAsync(rerun, Ct);
        await again.CommitGroupAsync(rerun, [await IcebergKit.StageAsync(again, rerun, "u2", IcebergKit.Records("u2", 45), new IcebergKit.Journal())], Ct);

        // Then u2's rows are exactly the new ones, once each, and every other unit's rows are untouched
        var after = LiveRows(out var files);
        after.Count.ShouldBe(150 + 45);
        after.Where(r => r.Split('|')[2] != "u2").ShouldBe(before.Where(r => r.Split('|')[2] != "u2"));
        var u2 = after.Where(r => r.Split('|')[2] == "u2").ToList();
        u2.Select(r => r.Split('|')[0]).Order(StringComparer.Ordinal).ShouldBe(Enumerable.Range(0, 45).Select(i => $"u2-{i}").Order(StringComparer.Ordinal));
        u2.ShouldAllBe(r => r.Split('|')[4] == rerun.RunId.ToString());
        var icebird = await IcebirdIdsAsync();
        icebird.Count.ShouldBe(195);
        icebird.Distinct().Count().ShouldBe(195);

        // And it was one overwrite: the three compacted files rewritten without u2 (copy-on-write), u2's new files added
        var snapshot = Metadata()["snapshots"]!.AsArray()[^1]!;
        var summary = snapshot["summary"]!.AsObject();
        summary["operation"]!.GetValue<string>().ShouldBe("overwrite");
        summary["deleted-data-files"]!.GetValue<string>().ShouldBe("3");
        summary["deleted-records"]!.GetValue<string>().ShouldBe("180");
        summary["added-records"]!.GetValue<string>().ShouldBe("195");
        summary["total-records"]!.GetValue<string>().ShouldBe("195");
        files.Count(f => Path.GetFileName(f).StartsWith("compacted-", StringComparison.Ordinal)).ShouldBe(3);
        files.Count(f => Path.GetFileName(f).StartsWith("u2-", StringComparison.Ordinal)).ShouldBe(3);

        // And verify passes with u2's new count, and the lake (state rebuild's source) knows every unit with the right records
        var done = Keys.Select(k => new DoneUnit(k, Stream, k == "u2" ? 45 : 30)).ToList();
        (await again.VerifyAsync("ice", done, Ct)).Problems.ShouldBeEmpty();
        var listed = await again.ListCommittedAsync("ice", [Stream], details: true, Ct).ToListAsync(Ct);
        listed.Select(u => (u.Key, u.Records)).OrderBy(u => u.Key, StringComparer.Ordinal).ShouldBe(done.Select(u => (u.Key, u.Records)));
        listed.Single(u => u.Key == "u2").RunId.ShouldBe(rerun.RunId);

        // And a second refresh of the same unit, now in files named after it again, still replaces only its own
        await again.CommitGroupAsync(rerun, [await IcebergKit.StageAsync(again, rerun, "u2", IcebergKit.Records("u2", 10), new IcebergKit.Journal())], Ct);
        var third = LiveRows(out _);
        third.Count.ShouldBe(160);
        third.Where(r => r.Split('|')[2] != "u2").ShouldBe(before.Where(r => r.Split('|')[2] != "u2"));
        Metadata()["snapshots"]!.AsArray()[^1]!["summary"]!["deleted-data-files"]!.GetValue<string>().ShouldBe("3", "u2's own three files, no compacted file");
    }

    [Fact]
    public async Task Verify_AfterCompaction_CatchesAMissingAndAShortFile()
    {
        // Given a compacted table
        await using var d = await LandSixUnitsAsync();
        await d.CompactAsync(Stream, dryRun: false, Ct);
        var done = Keys.Select(k => new DoneUnit(k, Stream, 30)).ToList();
        (await d.VerifyAsync("ice", done, Ct)).Problems.ShouldBeEmpty();
        var files = IcebergReaders.LiveFiles(Metadata()).Select(f => f.Path).Order(StringComparer.Ordinal).ToList();

        // When one compacted file loses the rows of u3 (rewritten shorter in place) and another is deleted
        using (var db = DuckDbSession.Open())
        {
            var shorter = files[0] + ".short";
            db.Execute($"COPY (SELECT * FROM read_parquet({DuckDbSession.Literal(files[0])}) WHERE _chunk_key <> 'u3') TO {DuckDbSession.Literal(shorter)} (FORMAT parquet)");
            File.Move(shorter, files[0], overwrite: true);
        }
        File.Delete(files[1]);

        // Then verify names both files, and the units whose rows the live files no longer hold in full
        var problems = (await d.VerifyAsync("ice", done, Ct)).Problems;
        problems.ShouldContain(p => p.Kind == "missing" && files[1].EndsWith(p.Path, StringComparison.Ordinal));
        problems.ShouldContain(p => p.Kind == "altered" && files[0].EndsWith(p.Path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Compact_ARefreshLandsBeforeItsSwap_PlansAgainWithoutTheReplacedFiles()
    {
        // Given six small units, and a refresh of u1 (12 records) that lands just before the compaction's compare-and-swap
        await using var ingest = await LandSixUnitsAsync();
        await using var compactor = Create();
        var run = IcebergKit.Run();
        var refresh = await IcebergKit.StageAsync(ingest, run, "u1", IcebergKit.Records("u1", 12), new IcebergKit.Journal());
        var oldU1 = IcebergReaders.LiveFiles(Metadata()).Select(f => f.Path).Where(p => Path.GetFileName(p).StartsWith("u1-", StringComparison.Ordinal)).ToList();
        oldU1.Count.ShouldBe(3);
        var landed = 0;
        compactor.BeforeCompactionSwap = async ct =>
        {
            if (Interlocked.Exchange(ref landed, 1) == 0) await ingest.CommitGroupAsync(run, [refresh], ct);
        };

        // When the compaction runs
        var result = await compactor.CompactAsync(Stream, dryRun: false, Ct);

        // Then it lost the swap once, planned again against the refreshed table (u1's replaced files out of the plan, its new
        // ones in), and the table holds u1's new rows once and no row of its old landing
        compactor.CommitRetries.ShouldBe(1);
        result.Groups.SelectMany(g => g.Inputs).Select(IcebergReaders.LocalPath).ShouldNotContain(p => oldU1.Contains(p));
        result.Groups.SelectMany(g => g.Inputs).ShouldContain(p => Path.GetFileName(p).StartsWith("u1-", StringComparison.Ordinal));
        (result.FilesBefore, result.FilesAfter).ShouldBe((18, 3));
        var rows = LiveRows(out _);
        rows.Count.ShouldBe(150 + 12);
        rows.Count(r => r.Split('|')[2] == "u1").ShouldBe(12);
        rows.Select(r => r.Split('|')[0]).Distinct().Count().ShouldBe(rows.Count);
        var done = Keys.Select(k => new DoneUnit(k, Stream, k == "u1" ? 12 : 30)).ToList();
        (await compactor.VerifyAsync("ice", done, Ct)).Problems.ShouldBeEmpty();
        Directory.EnumerateFiles(Path.Combine(Warehouse, "bronze", "ice_precip_15", "data"), "compacted-*", SearchOption.AllDirectories).Count()
            .ShouldBe(3, "the first attempt's files, written for a plan that did not land, are removed");
    }

    [Fact]
    public async Task Compact_RacingIngestCommits_BothLandEveryRecordOnce()
    {
        // Given a table of six small units, a compacting destination and an ingesting one (two processes) on it
        await using var ingest = await LandSixUnitsAsync();
        await using var compactor = Create();
        var run = IcebergKit.Run();
        var records = Keys.ToDictionary(k => k, _ => 30);

        // When, round after round, a compaction starts together with an ingest commit that lands a new unit and refreshes an
        // old one (whose file the compaction may be merging)
        for (var round = 0; round < 20 && compactor.CommitRetries == 0; round++)
        {
            var fresh = $"n{round}";
            var refreshed = Keys[round % Keys.Length];
            var size = 20 + round;
            var units = new[]
            {
                await IcebergKit.StageAsync(ingest, run, fresh, IcebergKit.Records(fresh, 12), new IcebergKit.Journal()),
                await IcebergKit.StageAsync(ingest, run, refreshed, IcebergKit.Records(refreshed, size), new IcebergKit.Journal()),
            };
            using var go = new ManualResetEventSlim();
            var compact = Task.Run(async () => { go.Wait(Ct); return await compactor.CompactAsync(Stream, dryRun: false, Ct); }, Ct);
            var commit = Task.Run(async () => { go.Wait(Ct); await Task.Delay(5, Ct); await ingest.CommitGroupAsync(run, units, Ct); }, Ct);
            go.Set();
            await Task.WhenAll(compact, commit);
            records[fresh] = 12;
            records[refreshed] = size;
        }

        // Then the compaction lost a race and planned again, and the table holds every unit's current records exactly once
        compactor.CommitRetries.ShouldBeGreaterThan(0);
        var rows = LiveRows(out _);
        var ids = rows.Select(r => r.Split('|')[0]).ToList();
        ids.Count.ShouldBe(records.Values.Sum());
        ids.Distinct().Count().ShouldBe(ids.Count);
        foreach (var (key, n) in records) rows.Count(r => r.Split('|')[2] == key).ShouldBe(n, key);
        (await IcebirdIdsAsync()).ShouldBe(ids.Order(StringComparer.Ordinal));
        (await ingest.VerifyAsync("ice", records.Select(p => new DoneUnit(p.Key, Stream, p.Value)).ToList(), Ct)).Problems.ShouldBeEmpty();
        Metadata()["snapshots"]!.AsArray().ShouldContain(s => s!["summary"]!["operation"]!.GetValue<string>() == "replace");
    }
}
