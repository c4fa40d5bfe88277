using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ingot.Config;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Destinations;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Cli.Commands;

internal static class PlanCommand
{
    /// <summary>Text cut to <paramref name="width"/> characters (an ellipsis marks the cut), for the plan's columns.</summary>
    private static string Fit(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";

    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var from = new Option<string?>("--from") { Description = "start of the range (UTC)" };
        var to = new Option<string?>("--to") { Description = "end of the range, exclusive (UTC)" };
        var latency = Common.Number("--latency", "assumed seconds per request for the ETA", 0.001, 3600.0, 1.0);
        var json = Common.JsonOption();
        var streams = new Option<string?>("--streams") { Description = "only these streams, comma-separated" };
        var command = new Command("plan", "print units of work, requests, data points, quota days and ETA; makes no data request") { pipeline, from, to, streams, latency, json };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (settings, configured) = Common.Load(parse.GetValue(pipeline)!);
            var time = TimeProvider.System;
            var options = new RunOptions(Common.Instant(parse.GetValue(from), "--from"), Common.Instant(parse.GetValue(to), "--to"), Streams: Common.Streams(parse.GetValue(streams)));
            // base_url: simulator plans as run would (the simulator answers nothing here: planning sends no data request).
            var (spec, simulator) = await Composition.WithBuiltinSimulatorAsync(configured, io.Cancellation).ConfigureAwait(false);
            await using var simulatorScope = simulator;
            Common.CheckRange(options.From, options.To);
            // Read-only: an absent state store is not created; the plan is then made against an empty one in memory.
            await using var state = Common.OpenExistingState(settings, time);
            await using var planner = await PipelineRunner.CreateAsync(spec, Composition.Registry, state, NullRunObserver.Instance, time, null, Guid.NewGuid(), io.Cancellation).ConfigureAwait(false);
            var plan = await planner.Runner.PlanAsync(options, io.Cancellation).ConfigureAwait(false);
            var chunks = plan.Units;
            var known = await state.GetChunksAsync(spec.Name, io.Cancellation).ConfigureAwait(false);
            bool IsDone(WorkUnit c) => known.GetValueOrDefault(c.Key) is { Status: ChunkStatus.Done } s && (c.Window is null || s.CoveredTo is null || s.CoveredTo >= c.Window.To);
            var done = chunks.Count(IsDone);
            var f = chunks.Count == 0 ? options.From : chunks.Min(c => c.From);
            var t = chunks.Count == 0 ? options.To : chunks.Max(c => c.Window?.To);
            var requests = chunks.Sum(c => (long)c.EstimatedRequests);
            var todoRequests = chunks.Where(c => !IsDone(c)).Sum(c => (long)c.EstimatedRequests);
            var perSecond = spec.Http.Concurrency / Math.Max(parse.GetValue(latency), 0.001);
            if (spec.Http.RateLimitPerSecond is { } r) perSecond = Math.Min(perSecond, r);
            var eta = TimeSpan.FromSeconds(todoRequests / perSecond);
            double? quotaDays = spec.Http.DailyQuota is { } q ? Math.Ceiling(todoRequests / (double)q) : null;
            if (parse.GetValue(json))
            {
                await io.Out.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    pipeline = spec.Name,
                    from = f,
                    to = t,
                    chunks = chunks.Count,
                    chunks_done = done,
                    requests,
                    requests_todo = todoRequests,
                    data_points = chunks.Sum(c => c.DataPoints),
                    quota_days = quotaDays,
                    eta_seconds = Math.Round(eta.TotalSeconds, 1),
                    concurrency = spec.Http.Concurrency,
                    streams = plan.Streams.Select(p => new { stream = p.Stream, source = p.Source, load_type = p.LoadType == LoadType.Full ? "full" : "incremental", lower_bound = p.LowerBound, units = chunks.Count(c => c.Stream == p.Stream) }),
                    chunk_list = chunks.Select(c => new { key = c.Key, stream = c.Stream, from = c.Window?.From, to = c.Window?.To, stations = c.Window?.Stations, bounds = c.Window is null ? c.Bounds.ToJson() : null, data_points = c.DataPoints, done = IsDone(c) }),
                })).ConfigureAwait(false);
                return 0;
            }
            await io.Out.WriteLineAsync($"{"chunk",-60} {"from",-20} {"to",-20} {"points",10}  state").ConfigureAwait(false);
            foreach (var c in chunks.Take(200))
            {
                var st = known.GetValueOrDefault(c.Key)?.Status.ToString().ToLowerInvariant() ?? "pending";
                // From / to: a time window's bounds, a cursor range's (after … up to), or a file's path.
                var span = c.Bounds switch
                {
                    TimeWindowBounds w => $"{w.From:yyyy-MM-ddTHH:mm}Z {w.To:yyyy-MM-ddTHH:mm}Z",
                    CursorBounds cb => $"{Fit(cb.After ?? "(start)", 20),-20} {Fit(cb.UpTo ?? "(now)", 20),-20}",
                    FileBounds fb => $"{Fit(fb.Path, 41),-41}",
                    _ => $"{"",-41}",
                };
                await io.Out.WriteLineAsync($"{c.Key,-60} {span} {(c.Window is null ? "" : c.DataPoints.ToString("N0", CultureInfo.InvariantCulture)),10}  {st}").ConfigureAwait(false);
            }
            if (chunks.Count > 200) await io.Out.WriteLineAsync($"… {chunks.Count - 200} more chunks").ConfigureAwait(false);
            await io.Out.WriteLineAsync($"""

                pipeline      {spec.Name}
                range         {(f is null && t is null ? "(no time windows: cursor or file units, see streams)" : $"{f:yyyy-MM-ddTHH:mm:ss}Z .. {t:yyyy-MM-ddTHH:mm:ss}Z")}
                streams       {string.Join(", ", plan.Streams.Select(p => $"{p.Stream} ({(p.LoadType == LoadType.Full ? "full" : "incremental")}{(p.LowerBound is null ? "" : " from " + p.LowerBound)})"))}
                chunks        {chunks.Count:N0} ({done:N0} done, {chunks.Count - done:N0} to do)
                requests      {requests:N0} ({todoRequests:N0} to do; more if the server splits)
                data points   {chunks.Sum(c => c.DataPoints):N0}
                quota days    {(quotaDays is null ? "no daily quota set" : quotaDays.Value.ToString("0", CultureInfo.InvariantCulture))}
                ETA           {eta:hh\:mm\:ss} at concurrency {spec.Http.Concurrency}{(spec.Http.RateLimitPerSecond is { } rl ? $", at most {rl:0.##}/s" : "")}, assuming {parse.GetValue(latency):0.##}s per request
                """).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}

internal static class ValidateCommand
{
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var command = new Command("validate", "check a pipeline file; errors as file:line:col: message") { pipeline };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (_, spec) = Common.Load(parse.GetValue(pipeline)!);
            // The checks a run makes before its first request: every destination writes and removes a probe, every field a
            // setting names exists where the source knows its fields. No state is read or written.
            var time = TimeProvider.System;
            await using var state = SqliteStateStore.Open(":memory:", time);
            await using var runner = await PipelineRunner.CreateAsync(spec, Composition.Registry, state, NullRunObserver.Instance, time, null, Guid.NewGuid(), io.Cancellation).ConfigureAwait(false);
            await runner.Runner.PreflightAsync(io.Cancellation).ConfigureAwait(false);
            await io.Out.WriteLineAsync($"{spec.FilePath}: ok (pipeline {spec.Name}, sources {string.Join(", ", spec.Sources.Select(x => x.Name == x.Type ? x.Type : $"{x.Name} ({x.Type})"))}, streams {string.Join(", ", spec.Streams)}, destinations {string.Join(", ", spec.Destinations.Select(d => d.Type))}{(spec.Aggregates.Count == 0 ? "" : $", aggregates {string.Join(", ", spec.Aggregates.Select(a => a.Name))}")})").ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}

internal static class StatusCommand
{
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var json = Common.JsonOption();
        var checkpoints = new Option<bool>("--checkpoints") { Description = "print the checkpoints as checkpoints.json (one object per stream)" };
        var command = new Command("status", "per stream: checkpoint, done/failed/pending units; last runs") { pipeline, json, checkpoints };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (settings, spec) = Common.Load(parse.GetValue(pipeline)!);
            var time = TimeProvider.System;
            await using var state = Common.OpenExistingState(settings, time);
            var chunks = await state.GetChunksAsync(spec.Name, io.Cancellation).ConfigureAwait(false);
            var marks = await state.GetWatermarksAsync(spec.Name, io.Cancellation).ConfigureAwait(false);
            var runs = await state.ListRunsAsync(spec.Name, 5, io.Cancellation).ConfigureAwait(false);
            var byStatus = chunks.Values.GroupBy(c => c.Status.ToString().ToLowerInvariant()).ToDictionary(g => g.Key, g => g.Count());
            var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            long? quotaUsed = spec.Http.DailyQuota is null ? null : await state.GetQuotaUsageAsync(PipelineRunner.QuotaScope(spec.Source), today, io.Cancellation).ConfigureAwait(false);
            var failed = chunks.Values.Where(c => c.Status == ChunkStatus.Failed).OrderBy(c => c.Key, StringComparer.Ordinal).ToList();
            if (parse.GetValue(checkpoints))
            {
                await io.Out.WriteLineAsync(CheckpointsFile.Render(marks)).ConfigureAwait(false);
                return 0;
            }
            var streams = spec.Streams.Select(s =>
            {
                var units = chunks.Values.Where(c => c.Stream == s).ToList();
                var mark = marks.FirstOrDefault(m => m.Stream == s);
                return new StreamStatus(s, mark, units.Count(c => c.Status == ChunkStatus.Done), units.Count(c => c.Status == ChunkStatus.Failed),
                    units.Count(c => c.Status == ChunkStatus.Pending), units.Where(c => c.Status == ChunkStatus.Failed).Select(c => c.LastError).FirstOrDefault());
            }).ToList();
            if (parse.GetValue(json))
            {
                await io.Out.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    pipeline = spec.Name,
                    chunks = byStatus,
                    streams = streams.Select(s => new
                    {
                        stream = s.Stream,
                        checkpoint = s.Mark?.Value,
                        record_count = s.Mark?.RecordCount,
                        checkpoint_updated_at = s.Mark?.UpdatedAt,
                        units = new { done = s.Done, failed = s.Failed, pending = s.Pending },
                        last_error = s.Error,
                    }),
                    watermarks = marks.ToDictionary(m => m.Stream, m => new { value = m.Value, record_count = m.RecordCount, updated_at = m.UpdatedAt }),
                    failed = failed.Select(c => new { key = c.Key, attempts = c.Attempts, error = c.LastError }),
                    runs = runs.Select(r => new { run_id = r.RunId, started_at = r.StartedAt, status = r.Status, exit_code = r.ExitCode }),
                    quota = spec.Http.DailyQuota is { } q ? new { day = today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), used = quotaUsed, limit = q } : null,
                })).ConfigureAwait(false);
                return 0;
            }
            await io.Out.WriteLineAsync($"pipeline {spec.Name}").ConfigureAwait(false);
            await io.Out.WriteLineAsync($"chunks: {string.Join(", ", byStatus.Select(kv => $"{kv.Value} {kv.Key}"))}").ConfigureAwait(false);
            foreach (var s in streams)
            {
                var mark = s.Mark is null ? "no checkpoint yet" : $"checkpoint {s.Mark.Value} ({s.Mark.RecordCount:N0} records, moved {s.Mark.UpdatedAt:O})";
                await io.Out.WriteLineAsync($"stream {s.Stream}: {s.Done} done, {s.Failed} failed, {s.Pending} pending; {mark}{(s.Error is null ? "" : "; last error: " + s.Error)}").ConfigureAwait(false);
            }
            if (spec.Http.DailyQuota is { } dq) await io.Out.WriteLineAsync($"quota {today:yyyy-MM-dd} (UTC): {quotaUsed:N0} of {dq:N0} requests used").ConfigureAwait(false);
            foreach (var c in failed.Take(20)) await io.Out.WriteLineAsync($"failed {c.Key} ({c.Attempts} attempts): {c.LastError}").ConfigureAwait(false);
            foreach (var r in runs) await io.Out.WriteLineAsync($"run {r.RunId} {r.StartedAt:O} {r.Status} exit {r.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}

internal sealed record StreamStatus(string Stream, Watermark? Mark, int Done, int Failed, int Pending, string? Error);

internal static class RunsCommand
{
    public static Command Build(CliIo io)
    {
        var pipelineName = new Option<string?>("--pipeline") { Description = "only this pipeline" };
        var limit = Common.Number("--limit", "how many runs", 1, 1_000_000, 50);
        var json = Common.JsonOption();
        var command = new Command("runs", "the run ledger") { pipelineName, limit, json };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var settings = IngotSettings.Load(Directory.GetCurrentDirectory());
            await using var state = Common.OpenExistingState(settings, TimeProvider.System);
            var runs = await state.ListRunsAsync(parse.GetValue(pipelineName), parse.GetValue(limit), io.Cancellation).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                await io.Out.WriteLineAsync(JsonSerializer.Serialize(runs.Select(r => new
                {
                    run_id = r.RunId,
                    pipeline = r.Pipeline,
                    started_at = r.StartedAt,
                    finished_at = r.FinishedAt,
                    status = r.Status,
                    exit_code = r.ExitCode,
                    args = r.Args,
                    summary = r.Summary is null ? (JsonElement?)null : JsonSerializer.Deserialize<JsonElement>(r.Summary),
                }))).ConfigureAwait(false);
                return 0;
            }
            foreach (var r in runs)
            {
                var reason = r.Status is "crashed" or "failed" && Common.RunMessage(r.Summary) is { } m ? $"  {m}" : "";
                await io.Out.WriteLineAsync($"{r.RunId}  {r.Pipeline,-24} {r.StartedAt:yyyy-MM-dd HH:mm:ss}  {r.Status,-16} exit {r.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}{reason}").ConfigureAwait(false);
            }
            return 0;
        }));
        return command;
    }
}
