using System.CommandLine;
using Ingot.Cli.Output;
using Ingot.Config;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Observability;
using Spectre.Console;

namespace Ingot.Cli.Commands;

internal static class RunCommand
{
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var from = new Option<string?>("--from") { Description = "start of the range (UTC), default: the pipeline's start" };
        var to = new Option<string?>("--to") { Description = "end of the range, exclusive (UTC), default: the pipeline's end or now" };
        var refresh = new Option<bool>("--refresh") { Description = "re-fetch chunks already done and replace them atomically" };
        var fullRefresh = new Option<bool>("--full-refresh") { Description = "re-fetch everything as a full load" };
        var concurrency = Common.OptionalNumber("--concurrency", "concurrent requests, 1..1000 (overrides http.concurrency)", 1, 1000);
        var logFormat = new Option<string?>("--log-format") { Description = "json or text (default: text on a terminal, json otherwise)" };
        var streams = new Option<string?>("--streams") { Description = "only these streams, comma-separated (default: every stream)" };
        var command = new Command("run", "plan, skip done work, fetch, land, commit, summarise") { pipeline, from, to, streams, refresh, fullRefresh, concurrency, logFormat };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (settings, spec) = Common.Load(parse.GetValue(pipeline)!);
            var options = new RunOptions(
                Common.Instant(parse.GetValue(from), "--from"),
                Common.Instant(parse.GetValue(to), "--to"),
                parse.GetValue(refresh),
                parse.GetValue(fullRefresh),
                parse.GetValue(concurrency),
                string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
                Common.Streams(parse.GetValue(streams)));
            if (options.Concurrency is < 1) throw new ConfigException("--concurrency must be at least 1");
            Common.CheckRange(options.From, options.To);
            var format = parse.GetValue(logFormat) ?? settings.LogFormat;
            if (format is not (null or "json" or "text")) throw new ConfigException($"--log-format: '{format}' is not json or text");
            return await RunPipelineAsync(io, settings, spec, options, format, io.Cancellation).ConfigureAwait(false);
        }));
        return command;
    }

    public static async Task<int> RunPipelineAsync(CliIo io, IngotSettings settings, PipelineSpec configured, RunOptions options, string? format, CancellationToken external)
    {
        var time = TimeProvider.System;
        var (spec, simulator) = await Composition.WithBuiltinSimulatorAsync(configured, external).ConfigureAwait(false);
        await using var simulatorScope = simulator;
        await using var state = Composition.OpenState(settings, time);
        var runId = Guid.NewGuid();
        var startedAt = time.GetUtcNow();
        var runLog = Path.Combine(settings.Home, "runs", $"{runId}.jsonl");
        var terminal = ReferenceEquals(io.Out, Console.Out) && !Console.IsOutputRedirected;
        // On a terminal without --log-format: the live display, the JSON log only in the run log. Otherwise the asked
        // format (JSON by default) on stdout.
        var interactive = terminal && format is null;
        var level = RunLogProvider.ParseLevel(settings.LogLevel);
        using var otlp = OtlpExport.Start(settings.Environment);
        using var provider = new RunLogProvider(interactive ? null : io.Out, format == "text" ? LogFormat.Text : LogFormat.Json,
            runLog, level, time);
        var log = new LoggingRunObserver(provider.CreateLogger(LoggingRunObserver.Category));
        var display = interactive ? new ProgressDisplay(AnsiConsole.Console, time) : null;
        IRunObserver observer = display is null ? log : new FanOut(log, display);
        var info = new RunInfo(runId, spec.Name);
        await using var pipelineRunner = await PipelineRunner.CreateAsync(spec, Composition.Registry, state, observer, time, options.Concurrency, runId, external).ConfigureAwait(false);

        // First Ctrl+C drains (in-flight chunks finish landing or roll back); a second one exits at once.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(external);
        var presses = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (Interlocked.Increment(ref presses) == 1)
            {
                e.Cancel = true;
                log.Message(info, "warn", "Cancel requested: finishing or rolling back in-flight chunks");
                stop.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (a scheduler or systemd stopping us) drains the same way as Ctrl+C.
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            if (Interlocked.Increment(ref presses) == 1)
            {
                log.Message(info, "warn", "SIGTERM: finishing or rolling back in-flight chunks");
                stop.Cancel();
            }
        });
        try
        {
            var summary = display is null
                ? await pipelineRunner.RunAsync(options, stop.Token).ConfigureAwait(false)
                : await display.RunAsync(() => pipelineRunner.RunAsync(options, stop.Token)).ConfigureAwait(false);
            var uploaded = await pipelineRunner.UploadLogAsync(runLog, startedAt, CancellationToken.None).ConfigureAwait(false);
            var exit = !uploaded && summary.ExitCode == ExitCodes.Complete ? ExitCodes.FailedChunks : summary.ExitCode;
            // The aggregates over what landed (DESIGN §4.2): only read the bronze tables, so a failing one costs exit 1, never data.
            if (spec.Aggregates.Count > 0 && !stop.IsCancellationRequested)
            {
                var aggregates = await AggregateCommand.RunAsync(spec, full: false,
                    line => { log.Message(info, "info", line); return Task.CompletedTask; },
                    async line => { log.Message(info, "error", line); await io.Err.WriteLineAsync(line).ConfigureAwait(false); }, stop.Token).ConfigureAwait(false);
                if (aggregates != ExitCodes.Complete && exit == ExitCodes.Complete) exit = ExitCodes.FailedChunks;
            }
            return exit;
        }
        catch (Exception e) when (e is not LeaseHeldException)
        {
            // The run record is closed already (failed or crashed, with the reason); the run log keeps the details.
            provider.Detail(info, "Run failure detail", e.ToString());
            throw;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
