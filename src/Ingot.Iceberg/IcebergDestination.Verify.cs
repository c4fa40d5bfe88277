using System.Globalization;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.Iceberg.Table;
using Ingot.Storage;

namespace Ingot.Iceberg;

internal sealed partial class IcebergDestination
{
    /// <summary>
    /// <c>ingot verify</c> (issue 13, item 4): every live data file of each table's current snapshot exists with the size
    /// and record count its manifest says; every unit the state holds as done is in the snapshot summaries with the same
    /// record count, and the table holds no unit the state does not know. The live files' rows are counted per
    /// <c>_chunk_key</c> too: after compaction a file holds many units, so each unit's count in the live files must match its
    /// record (a rewrite that lost or doubled a unit's rows is caught even when every file matches its manifest).
    /// </summary>
    public async Task<VerifyReport> VerifyAsync(string pipeline, IReadOnlyList<DoneUnit> done, CancellationToken cancellationToken)
    {
        var problems = new List<VerifyProblem>();
        var checkedFiles = 0;
        using var session = DuckDbSession.Open();
        foreach (var stream in _pipeline.Streams)
        {
            var table = TableFor(stream);
            var (_, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
            var expected = done.Where(d => d.Stream == stream).ToList();
            if (metadata is null)
            {
                if (expected.Count > 0) problems.Add(new("missing", table.RelativeRoot, $"the catalog has no table {_spec.Namespace}.{table.Name}, but the state holds {expected.Count} landed unit(s) of stream {stream}"));
                continue;
            }
            var held = await UnitsAsync(metadata, cancellationToken).ConfigureAwait(false);
            foreach (var unit in expected)
            {
                if (!held.TryGetValue(unit.Key, out var h)) problems.Add(new("missing", table.RelativeRoot, $"unit {unit.Key} is done in the state but in no snapshot of the table"));
                else if ((h.Entry["records"]?.GetValue<long>() ?? -1) != unit.Records)
                    problems.Add(new("altered", table.RelativeRoot, $"unit {unit.Key}: the state says {unit.Records} records, snapshot {h.SnapshotId} says {h.Entry["records"]}"));
            }
            var known = expected.Select(u => u.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var key in held.Keys.Where(k => !known.Contains(k)))
                problems.Add(new("unknown", table.RelativeRoot, $"unit {key} is in snapshot {held[key].SnapshotId} but not done in the state store"));
            if (metadata.CurrentSnapshotId is not { } current) continue;
            var listBytes = await ReadAsync(metadata.Snapshot(current)!["manifest-list"]!.GetValue<string>(), cancellationToken).ConfigureAwait(false);
            if (listBytes is null)
            {
                problems.Add(new("missing", metadata.Snapshot(current)!["manifest-list"]!.GetValue<string>(), $"the manifest list of snapshot {current}"));
                continue;
            }
            var live = new HashSet<string>(StringComparer.Ordinal);
            var perUnit = new Dictionary<string, long>(StringComparer.Ordinal);
            var countable = true;
            foreach (var m in Manifests.ReadList(listBytes))
            {
                var bytes = await ReadAsync(m.Path, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    problems.Add(new("missing", m.Path, $"a manifest of snapshot {current}"));
                    continue;
                }
                foreach (var e in Manifests.ReadManifest(bytes, m).Entries.Where(e => e.Status != Manifests.Deleted))
                {
                    checkedFiles++;
                    if (!live.Add(e.Path)) problems.Add(new("duplicate", e.Path, $"listed twice as live in snapshot {current}: its records would be read twice"));
                    var (problem, keys) = await CheckFileAsync(session, e, cancellationToken).ConfigureAwait(false);
                    if (problem is not null) problems.Add(problem);
                    if (keys is null) countable = false;
                    else foreach (var (k, n) in keys) perUnit[k] = perUnit.GetValueOrDefault(k) + n;
                }
            }
            if (!countable) continue;
            foreach (var (key, (entry, _, snapshotId)) in held)
            {
                var records = entry["records"]?.GetValue<long>() ?? -1;
                var found = perUnit.GetValueOrDefault(key);
                if (found != records) problems.Add(new("altered", table.RelativeRoot, $"unit {key}: the live data files hold {found} of its records, snapshot {snapshotId} says {records}"));
            }
            foreach (var (key, n) in perUnit.Where(p => !held.ContainsKey(p.Key)))
                problems.Add(new("unknown", table.RelativeRoot, $"the live data files hold {n} records of unit {key}, which no snapshot lists"));
        }
        return new VerifyReport(checkedFiles, problems);
    }

    /// <summary>A live file's problem, if any, and its records per <c>_chunk_key</c> (null when they could not be counted).</summary>
    private async Task<(VerifyProblem? Problem, List<(string Key, long Records)>? Keys)> CheckFileAsync(DuckDbSession session, EntryInfo e, CancellationToken cancellationToken)
    {
        if (Locations.Relative(_store, e.Path) is not { } relative) return (new("missing", e.Path, "a live data file outside the warehouse (not checked)"), null);
        string local;
        string? temp = null;
        if (_store is LocalBlobStore l)
        {
            local = l.FullPath(relative);
            if (!File.Exists(local)) return (new("missing", relative, "a live data file of the current snapshot"), null);
        }
        else
        {
            var stream = await _store.OpenReadAsync(relative, cancellationToken).ConfigureAwait(false);
            if (stream is null) return (new("missing", relative, "a live data file of the current snapshot"), null);
            temp = Path.Combine(Path.GetTempPath(), $"ingot-verify-{Guid.NewGuid():N}.parquet");
            await using (stream.ConfigureAwait(false))
            {
                var fs = File.Create(temp);
                await using (fs.ConfigureAwait(false)) await stream.CopyToAsync(fs, cancellationToken).ConfigureAwait(false);
            }
            local = temp;
        }
        try
        {
            var size = new FileInfo(local).Length;
            if (size != e.SizeBytes) return (new("altered", relative, $"{size} bytes, the manifest says {e.SizeBytes}"), null);
            long rows;
            try
            {
                rows = (long)session.Scalar("SELECT num_rows FROM parquet_file_metadata($1)", local)!;
            }
            catch (DuckDbException ex)
            {
                return (new("altered", relative, $"not a readable Parquet file ({ex.Message})"), null);
            }
            if (rows != e.RecordCount) return (new("altered", relative, $"{rows} records, the manifest says {e.RecordCount}"), null);
            List<(string, long)>? keys = null;
            try
            {
                keys = session.Query($"SELECT {DuckDbSession.Identifier(Records.MetadataColumns.ChunkKey)}, count(*) FROM read_parquet({DuckDbSession.Literal(local)}) GROUP BY ALL")
                    .Select(r => (r[0] as string ?? "", Convert.ToInt64(r[1], CultureInfo.InvariantCulture))).ToList();
            }
            catch (DuckDbException)
            {
                // Another writer's file without Ingot's _chunk_key: the per-unit counts are not checked for this table.
            }
            return (null, keys);
        }
        finally
        {
            if (temp is not null) File.Delete(temp);
        }
    }
}
