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
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var from = new Option<string?>("--from") { Description = "start of the range (UTC)" };
        var to = new Option<string?>("--to") { Description = "end of the range, exclusive (UTC)" };
        var latency = new Option<double>("--latency") { Description = "assumed seconds per request for the ETA", DefaultValueFactory = _ => 1.0 };
        var json = Common.JsonOption();
        var streams = new Option<string?>("--streams") { Description = "only these streams, comma-separated" };
        var command = new Command("plan", "print units of work, requests, data points, quota days and ETA; makes no data request") { pipeline, from, to, streams, latency, json };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (settings, spec) = Common.Load(parse.GetValue(pipeline)!);
            var time = TimeProvider.System;
            var options = new RunOptions(Common.Instant(parse.GetValue(from), "--from"), Common.Instant(parse.GetValue(to), "--to"), Streams: Common.Streams(parse.GetValue(streams)));
            Common.CheckRange(options.From, options.To);
            // Read-only: an absent state store is not created; the plan is then made against an empty one in memory.
            await using var state = File.Exists(settings.StatePath) ? Composition.OpenState(settings, time) : SqliteStateStore.Open(":memory:", time);
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
                await io.Out.WriteLineAsync(c.Window is { } w
                    ? $"{c.Key,-60} {w.From:yyyy-MM-ddTHH:mm}Z {w.To:yyyy-MM-ddTHH:mm}Z {c.DataPoints,10:N0}  {st}"
                    : $"{c.Key,-60} {c.Stream,-41} {"",10}  {st}").ConfigureAwait(false);
            }
            if (chunks.Count > 200) await io.Out.WriteLineAsync($"… {chunks.Count - 200} more chunks").ConfigureAwait(false);
            await io.Out.WriteLineAsync($"""

                pipeline      {spec.Name}
                range         {f:yyyy-MM-ddTHH:mm:ss}Z .. {t:yyyy-MM-ddTHH:mm:ss}Z
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

internal sealed class NullHttpObserver : IHttpObserver
{
    public static readonly NullHttpObserver Instance = new();
    public void OnAttempt(string chunkKey, int attempt) { }
    public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
    public void OnCircuitOpen(TimeSpan pause, string reason) { }
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
            var destinations = Composition.Destinations(spec);
            foreach (var d in destinations) await d.DisposeAsync().ConfigureAwait(false);
            await io.Out.WriteLineAsync($"{spec.FilePath}: ok (pipeline {spec.Name}, sources {string.Join(", ", spec.Sources.Select(x => x.Name == x.Type ? x.Type : $"{x.Name} ({x.Type})"))}, streams {string.Join(", ", spec.Streams)}, destinations {string.Join(", ", spec.Destinations.Select(d => d.Type))})").ConfigureAwait(false);
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
        var command = new Command("status", "watermarks, done/failed/pending chunks, last runs") { pipeline, json };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (settings, spec) = Common.Load(parse.GetValue(pipeline)!);
            var time = TimeProvider.System;
            await using var state = Composition.OpenState(settings, time);
            var chunks = await state.GetChunksAsync(spec.Name, io.Cancellation).ConfigureAwait(false);
            var marks = await state.GetWatermarksAsync(spec.Name, io.Cancellation).ConfigureAwait(false);
            var runs = await state.ListRunsAsync(spec.Name, 5, io.Cancellation).ConfigureAwait(false);
            var byStatus = chunks.Values.GroupBy(c => c.Status.ToString().ToLowerInvariant()).ToDictionary(g => g.Key, g => g.Count());
            var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            long? quotaUsed = spec.Http.DailyQuota is null ? null : await state.GetQuotaUsageAsync(PipelineRunner.QuotaScope(spec.Source), today, io.Cancellation).ConfigureAwait(false);
            var failed = chunks.Values.Where(c => c.Status == ChunkStatus.Failed).OrderBy(c => c.Key, StringComparer.Ordinal).ToList();
            if (parse.GetValue(json))
            {
                await io.Out.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    pipeline = spec.Name,
                    chunks = byStatus,
                    watermarks = marks.ToDictionary(m => m.Stream, m => new { value = m.Value, record_count = m.RecordCount, updated_at = m.UpdatedAt }),
                    failed = failed.Select(c => new { key = c.Key, attempts = c.Attempts, error = c.LastError }),
                    runs = runs.Select(r => new { run_id = r.RunId, started_at = r.StartedAt, status = r.Status, exit_code = r.ExitCode }),
                    quota = spec.Http.DailyQuota is { } q ? new { day = today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), used = quotaUsed, limit = q } : null,
                })).ConfigureAwait(false);
                return 0;
            }
            await io.Out.WriteLineAsync($"pipeline {spec.Name}").ConfigureAwait(false);
            await io.Out.WriteLineAsync($"chunks: {string.Join(", ", byStatus.Select(kv => $"{kv.Value} {kv.Key}"))}").ConfigureAwait(false);
            if (spec.Http.DailyQuota is { } dq) await io.Out.WriteLineAsync($"quota {today:yyyy-MM-dd} (UTC): {quotaUsed:N0} of {dq:N0} requests used").ConfigureAwait(false);
            foreach (var m in marks) await io.Out.WriteLineAsync($"watermark {m.Stream}: {m.Value} ({m.RecordCount:N0} records, updated {m.UpdatedAt:O})").ConfigureAwait(false);
            foreach (var c in failed.Take(20)) await io.Out.WriteLineAsync($"failed {c.Key} ({c.Attempts} attempts): {c.LastError}").ConfigureAwait(false);
            foreach (var r in runs) await io.Out.WriteLineAsync($"run {r.RunId} {r.StartedAt:O} {r.Status} exit {r.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}

internal static class RunsCommand
{
    public static Command Build(CliIo io)
    {
        var pipelineName = new Option<string?>("--pipeline") { Description = "only this pipeline" };
        var limit = new Option<int>("--limit") { Description = "how many runs", DefaultValueFactory = _ => 50 };
        var json = Common.JsonOption();
        var command = new Command("runs", "the run ledger") { pipelineName, limit, json };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var settings = IngotSettings.Load(Directory.GetCurrentDirectory());
            await using var state = Composition.OpenState(settings, TimeProvider.System);
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
                await io.Out.WriteLineAsync($"{r.RunId}  {r.Pipeline,-24} {r.StartedAt:yyyy-MM-dd HH:mm:ss}  {r.Status,-16} exit {r.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}").ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
