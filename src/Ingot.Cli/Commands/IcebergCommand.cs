using System.CommandLine;
using Ingot.Config;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Iceberg;

namespace Ingot.Cli.Commands;

/// <summary>
/// <c>ingot iceberg &lt;pipeline&gt; expire-snapshots|remove-orphans|compact|maintain [--older-than D] [--retain-last N] [--dry-run]</c>:
/// maintenance of the pipeline's Iceberg tables (DESIGN §3, §4.2).
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
        var dryRun = new Option<bool>("--dry-run") { Description = "say what would be removed, change nothing" };
        var command = new Command("iceberg", "Iceberg table maintenance: expire snapshots, remove orphan files") { pipeline, action, olderThan, retainLast, dryRun };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (_, spec) = Common.Load(parse.GetValue(pipeline)!);
            var what = parse.GetValue(action)!;
            if (what == "compact")
                throw new ConfigException("ingot iceberg compact: compaction is not available in this build (expire-snapshots and remove-orphans are)");
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
                    // The bronze tables, then the result tables of the aggregates this destination holds (one snapshot per aggregate run).
                    var targets = d.Streams.Select(d.TableFor).Concat(spec.Aggregates.Where(a => a.Destination == d.Name).Select(d.ResultTableFor)).ToList();
                    foreach (var table in targets)
                    {
                        var results = new List<MaintenanceResult>();
                        if (what is "expire-snapshots" or "maintain")
                            results.Add(await d.ExpireSnapshotsAsync(table, age ?? TimeSpan.FromDays(5), retain, dry, io.Cancellation).ConfigureAwait(false));
                        if (what is "remove-orphans" or "maintain")
                            results.Add(await d.RemoveOrphansAsync(table, age ?? TimeSpan.FromDays(3), dry, io.Cancellation).ConfigureAwait(false));
                        foreach (var r in results)
                        {
                            var verb = r.DryRun ? "would remove" : "removed";
                            await io.Out.WriteLineAsync(r.Action == "expire-snapshots"
                                ? $"{r.Table}: expire-snapshots {verb} {r.Snapshots} snapshot(s) and {r.Files.Count} file(s) only they referenced"
                                : $"{r.Table}: remove-orphans {verb} {r.Files.Count} unreferenced file(s)").ConfigureAwait(false);
                            foreach (var f in r.Files) await io.Out.WriteLineAsync($"  {f}").ConfigureAwait(false);
                        }
                    }
                }
                if (what == "maintain") await io.Out.WriteLineAsync("compaction is not available in this build: small files stay as they are").ConfigureAwait(false);
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
}
