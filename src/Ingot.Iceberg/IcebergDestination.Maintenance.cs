using System.Text.Json.Nodes;
using Ingot.Iceberg.Table;
using Ingot.Storage;

namespace Ingot.Iceberg;

/// <summary>What a maintenance action did (or, with a dry run, would do) to one table.</summary>
internal sealed record MaintenanceResult(string Table, string Action, int Snapshots, IReadOnlyList<string> Files, bool DryRun);

internal sealed partial class IcebergDestination
{
    /// <summary>The tables of the pipeline's streams, for <c>ingot iceberg</c>.</summary>
    internal IEnumerable<string> Streams => _pipeline.Streams;

    /// <summary>
    /// Expires snapshots of the main branch older than <paramref name="olderThan"/> but keeps the newest
    /// <paramref name="retainLast"/> (and always the current one), in one commit (compare-and-swap, retried); then deletes
    /// the manifest lists, manifests and data files only expired snapshots referenced. The unit records of expired
    /// snapshots whose files are still live are carried into a file the table property <see cref="CarriedUnitsProperty"/>
    /// names, so the lake keeps remembering what landed (the lake check, state rebuild, and the overwrite of a repeated unit).
    /// </summary>
    public Task<MaintenanceResult> ExpireSnapshotsAsync(string stream, TimeSpan olderThan, int retainLast, bool dryRun, CancellationToken cancellationToken) =>
        ExpireSnapshotsAsync(TableFor(stream), olderThan, retainLast, dryRun, cancellationToken);

    /// <summary>As above, for any table of the destination (an aggregate's result table too).</summary>
    internal async Task<MaintenanceResult> ExpireSnapshotsAsync(TableState table, TimeSpan olderThan, int retainLast, bool dryRun, CancellationToken cancellationToken)
    {
        await table.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var (location, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
                if (metadata is null || location is null) return new(table.Name, "expire-snapshots", 0, [], dryRun);
                var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                var cutoff = now - (long)olderThan.TotalMilliseconds;
                var ancestry = metadata.Ancestry().ToList();
                var keep = new HashSet<long>(ancestry.Take(Math.Max(1, retainLast)).Select(Id));
                foreach (var s in metadata.Snapshots.Where(s => s["timestamp-ms"]!.GetValue<long>() >= cutoff)) keep.Add(Id(s));
                var expired = metadata.Snapshots.Select(Id).Where(id => !keep.Contains(id)).ToHashSet();
                if (expired.Count == 0) return new(table.Name, "expire-snapshots", 0, [], dryRun);

                // What the retained snapshots still read, and what only expired ones did.
                var (keptFiles, keptManifests, keptLists) = await ReachableAsync(metadata, keep, liveOnly: true, cancellationToken).ConfigureAwait(false);
                var (oldFiles, oldManifests, oldLists) = await ReachableAsync(metadata, expired, liveOnly: false, cancellationToken).ConfigureAwait(false);
                var (retainedAll, _, _) = await ReachableAsync(metadata, keep, liveOnly: false, cancellationToken).ConfigureAwait(false);
                var deletable = oldFiles.Concat(retainedAll).Where(f => !keptFiles.Contains(f))
                    .Concat(oldManifests.Where(m => !keptManifests.Contains(m)))
                    .Concat(oldLists.Where(l => !keptLists.Contains(l)))
                    .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                if (dryRun) return new(table.Name, "expire-snapshots", expired.Count, deletable, true);

                // Unit records only expired snapshots hold (their files are live): carried, with their run and snapshot.
                var units = await UnitsAsync(metadata, cancellationToken).ConfigureAwait(false);
                var carried = new JsonArray();
                foreach (var (_, (entry, runId, snapshotId)) in units.Where(u => expired.Contains(u.Value.SnapshotId) || !metadata.Snapshots.Any(s => Id(s) == u.Value.SnapshotId)))
                {
                    var copy = (JsonObject)entry.DeepClone();
                    copy["run-id"] = runId?.ToString();
                    copy["snapshot-id"] = snapshotId;
                    carried.Add(copy);
                }
                var properties = new Dictionary<string, string>(StringComparer.Ordinal);
                var written = new List<string>();
                if (carried.Count > 0)
                {
                    var file = await WriteMetadataFileAsync(table, $"ingot-units-{Guid.NewGuid():D}.json", System.Text.Encoding.UTF8.GetBytes(carried.ToJsonString()), cancellationToken).ConfigureAwait(false);
                    written.Add(file);
                    properties[CarriedUnitsProperty] = file;
                }
                var next = metadata.Expire(location, expired, properties, now);
                var version = metadata.VersionOf(location) + 1;
                var path = await WriteMetadataFileAsync(table, $"{version:D5}-{Guid.NewGuid():D}.metadata.json", next.ToUtf8(), cancellationToken).ConfigureAwait(false);
                written.Add(path);
                if (await _catalog.SwapAsync(_spec.CatalogName, _spec.Namespace, table.Name, location, path, cancellationToken).ConfigureAwait(false))
                {
                    table.Adopt(path, next);
                    if (metadata.Properties.TryGetValue(CarriedUnitsProperty, out var before) && before != properties.GetValueOrDefault(CarriedUnitsProperty)) deletable.Add(before);
                    foreach (var uri in deletable) await DeleteUriAsync(uri).ConfigureAwait(false);
                    return new(table.Name, "expire-snapshots", expired.Count, deletable, false);
                }
                foreach (var w in written) await DeleteUriAsync(w).ConfigureAwait(false);
                Interlocked.Increment(ref _commitRetries);
                if (attempt == CommitAttempts) throw new IOException($"iceberg table {_spec.Namespace}.{table.Name}: expire-snapshots lost {CommitAttempts} commits to concurrent writers; run it again");
                await Task.Delay(TimeSpan.FromMilliseconds(20 << Math.Min(attempt, 6)), _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            table.Lock.Release();
        }
    }

    /// <summary>
    /// Deletes files under the table's folder that no metadata the table still tracks references and that were last
    /// written before <paramref name="olderThan"/> ago (default 3 days: longer than any write takes, so nothing a running
    /// writer staged is taken). The age is the store's own (the file system's write time, S3's LastModified).
    /// </summary>
    public Task<MaintenanceResult> RemoveOrphansAsync(string stream, TimeSpan olderThan, bool dryRun, CancellationToken cancellationToken) =>
        RemoveOrphansAsync(TableFor(stream), olderThan, dryRun, cancellationToken);

    /// <summary>As above, for any table of the destination (an aggregate's result table too).</summary>
    internal async Task<MaintenanceResult> RemoveOrphansAsync(TableState table, TimeSpan olderThan, bool dryRun, CancellationToken cancellationToken)
    {
        var (location, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
        if (metadata is null || location is null) return new(table.Name, "remove-orphans", 0, [], dryRun);
        var all = metadata.Snapshots.Select(Id).ToHashSet();
        var (files, manifests, lists) = await ReachableAsync(metadata, all, liveOnly: false, cancellationToken).ConfigureAwait(false);
        var referenced = new HashSet<string>(files.Concat(manifests).Concat(lists).Append(location).Concat(metadata.MetadataLog), StringComparer.Ordinal);
        if (metadata.Properties.TryGetValue(CarriedUnitsProperty, out var carried)) referenced.Add(carried);
        var cutoff = _time.GetUtcNow() - olderThan;
        var orphans = new List<string>();
        await foreach (var blob in _store.ListAsync(table.RelativeRoot + "/", cancellationToken).ConfigureAwait(false))
        {
            var uri = Locations.Uri(_store, blob.Path);
            if (referenced.Contains(uri)) continue;
            // A file whose age the store does not tell may be one a running writer is staging: never taken.
            if (blob.LastModified is not { } modified || modified >= cutoff) continue;
            orphans.Add(uri);
        }
        if (!dryRun) foreach (var uri in orphans) await DeleteUriAsync(uri).ConfigureAwait(false);
        return new(table.Name, "remove-orphans", 0, orphans, dryRun);
    }

    private static long Id(JsonObject snapshot) => snapshot["snapshot-id"]!.GetValue<long>();

    /// <summary>The data files (live ones only, or every entry), manifests and manifest lists the given snapshots reference.</summary>
    private async Task<(HashSet<string> Files, HashSet<string> Manifests, HashSet<string> Lists)> ReachableAsync(TableMetadata metadata, IReadOnlySet<long> snapshots, bool liveOnly, CancellationToken cancellationToken)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        var manifests = new HashSet<string>(StringComparer.Ordinal);
        var lists = new HashSet<string>(StringComparer.Ordinal);
        foreach (var snapshot in metadata.Snapshots.Where(s => snapshots.Contains(Id(s))))
        {
            var list = snapshot["manifest-list"]!.GetValue<string>();
            lists.Add(list);
            var bytes = await ReadAsync(list, cancellationToken).ConfigureAwait(false);
            if (bytes is null) continue;
            foreach (var m in Manifests.ReadList(bytes))
            {
                if (!manifests.Add(m.Path)) continue;
                var content = await ReadAsync(m.Path, cancellationToken).ConfigureAwait(false);
                if (content is null) continue;
                foreach (var e in Manifests.ReadManifest(content, m).Entries)
                    if (!liveOnly || e.Status != Manifests.Deleted) files.Add(e.Path);
            }
        }
        return (files, manifests, lists);
    }
}
