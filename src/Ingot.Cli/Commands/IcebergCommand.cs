using System.CommandLine;
using System.Globalization;
using Ingot.Config;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Iceberg;

namespace Ingot.Cli.Commands;

/// <summary>
/// <c>ingot iceberg &lt;pipeline&gt; expire-snapshots|remove-orphans|compact|maintain [--older-than D] [--retain-last N] [--dry-run]</c>:
/// maintenance of the pipeline's Iceberg tables (DESIGN §3, §4.2); <c>maintain</c> expires snapshots, compacts, then removes orphans.
/// </summary>
internal static class IcebergCommand
{
    private static readonly string[] Actions = ["expire-snapshots", "remove-orphans", "compact", "maintain"];

    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var action = new Argument<string>("action") { Description = string.Join(" | ", Actions) };
        action.AcceptOnlyFromAmong(Actions);
        var olderThan = new Option<string?>("--older-than") { Description = "expire snapshots / remove orphans older than this (default 5d for snapshots, 3d for orphans)" };
        var retainLast = new Option<int>("--retain-last") { Description = "snapshots to keep whatever their age (default 1)", DefaultValueFactory = _ => 1 };
        var dryRun = new Option<bool>("--dry-run") { Description = "say what would be removed or merged, change nothing" };
        var command = new Command("iceberg", "Iceberg table maintenance: expire snapshots, compact small files, remove orphan files") { pipeline, action, olderThan, retainLast, dryRun };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (_, spec) = Common.Load(parse.GetValue(pipeline)!);
            var what = parse.GetValue(action)!;
            TimeSpan? age = null;
            if (parse.GetValue(olderThan) is { } text)
                age = Values.TryDuration(text, out var d) && d > TimeSpan.Zero ? d : throw new ConfigException($"--older-than: expected a duration like 5d or 72h, found '{text}'");
            var retain = parse.GetValue(retainLast);
            if (retain < 1) throw new ConfigException("--retain-last: at least 1 (the current snapshot is always kept)");
            var dry = parse.GetValue(dryRun);
            var destinations = Composition.Destinations(spec);
            try
            {
                var tables = destinations.OfType<IcebergDestination>().ToList();
                if (tables.Count == 0) throw new ConfigException($"pipeline {spec.Name} has no iceberg destination");
                foreach (var d in tables)
                {
                    foreach (var stream in d.Streams)
                    {
                        if (what is "expire-snapshots" or "maintain")
                            await ReportAsync(io, await d.ExpireSnapshotsAsync(stream, age ?? TimeSpan.FromDays(5), retain, dry, io.Cancellation).ConfigureAwait(false)).ConfigureAwait(false);
                        if (what is "compact" or "maintain")
                            await ReportAsync(io, await d.CompactAsync(stream, dry, io.Cancellation).ConfigureAwait(false)).ConfigureAwait(false);
                        if (what is "remove-orphans" or "maintain")
                            await ReportAsync(io, await d.RemoveOrphansAsync(stream, age ?? TimeSpan.FromDays(3), dry, io.Cancellation).ConfigureAwait(false)).ConfigureAwait(false);
                    }
                    // The result tables of the aggregates this destination holds: one snapshot per aggregate run, one small file (nothing to compact).
                    foreach (var result in spec.Aggregates.Where(a => a.Destination == d.Name).Select(d.ResultTableFor))
                    {
                        if (what is "expire-snapshots" or "maintain")
                            await ReportAsync(io, await d.ExpireSnapshotsAsync(result, age ?? TimeSpan.FromDays(5), retain, dry, io.Cancellation).ConfigureAwait(false)).ConfigureAwait(false);
                        if (what is "remove-orphans" or "maintain")
                            await ReportAsync(io, await d.RemoveOrphansAsync(result, age ?? TimeSpan.FromDays(3), dry, io.Cancellation).ConfigureAwait(false)).ConfigureAwait(false);
                    }
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException)
            {
                await io.Err.WriteLineAsync($"error: {Redact.Message(e.Message)}").ConfigureAwait(false);
                return ExitCodes.FailedChunks;
            }
            finally
            {
                foreach (var d in destinations) await d.DisposeAsync().ConfigureAwait(false);
            }
        }));
        return command;
    }

    private static async Task ReportAsync(CliIo io, MaintenanceResult r)
    {
        var verb = r.DryRun ? "would remove" : "removed";
        await io.Out.WriteLineAsync(r.Action == "expire-snapshots"
            ? $"{r.Table}: expire-snapshots {verb} {r.Snapshots} snapshot(s) and {r.Files.Count} file(s) only they referenced"
            : $"{r.Table}: remove-orphans {verb} {r.Files.Count} unreferenced file(s)").ConfigureAwait(false);
        foreach (var f in r.Files) await io.Out.WriteLineAsync($"  {f}").ConfigureAwait(false);
    }

    /// <summary>Per table: live data files and bytes before → after, then each group merged (its partition, inputs and size).</summary>
    private static async Task ReportAsync(CliIo io, CompactionResult r)
    {
        if (r.Skipped is not null)
        {
            await io.Out.WriteLineAsync($"{r.Table}: compact skipped: {r.Skipped}").ConfigureAwait(false);
            return;
        }
        var verb = r.DryRun ? "would merge" : "merged";
        await io.Out.WriteLineAsync(r.Groups.Count == 0
            ? $"{r.Table}: compact found nothing to merge ({r.FilesBefore} live data file(s), {Bytes(r.BytesBefore)})"
            : $"{r.Table}: compact {verb} {r.Groups.Sum(g => g.Inputs.Count)} small file(s) into {r.Groups.Count} in {r.Groups.Select(g => g.Partition).Distinct(StringComparer.Ordinal).Count()} partition(s): " +
              $"files {r.FilesBefore} → {r.FilesAfter}" + (r.DryRun ? $", {Bytes(r.BytesBefore)}" : $", bytes {Bytes(r.BytesBefore)} → {Bytes(r.BytesAfter)}")).ConfigureAwait(false);
        foreach (var g in r.Groups)
            await io.Out.WriteLineAsync($"  {g.Partition}: {g.Inputs.Count} file(s), {g.Records} record(s), {Bytes(g.InputBytes)}" + (g.OutputBytes is { } o ? $" → {Bytes(o)}" : "")).ConfigureAwait(false);
    }

    private static string Bytes(long n) =>
        n >= 1 << 20 ? (n / (double)(1 << 20)).ToString("0.0 MB", CultureInfo.InvariantCulture)
        : n >= 1 << 10 ? (n / 1024.0).ToString("0.0 KB", CultureInfo.InvariantCulture)
        : n.ToString(CultureInfo.InvariantCulture) + " B";
}
