using System.CommandLine;
using System.Globalization;
using Ingot.Config;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Iceberg;

namespace Ingot.Cli.Commands;

/// <summary>
/// <c>ingot aggregate &lt;pipeline&gt; [--full]</c> (DESIGN §3): the pipeline's incremental aggregates, each over the rows its
/// bronze table gained or lost since the aggregate's watermark (or the whole table with <c>--full</c>). Also run by
/// <c>ingot run</c> after the run when the pipeline declares aggregates.
/// </summary>
internal static class AggregateCommand
{
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var full = new Option<bool>("--full") { Description = "recompute from the whole current table instead of the rows since the watermark" };
        var command = new Command("aggregate", "incremental aggregates over the pipeline's Iceberg bronze tables") { pipeline, full };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (_, spec) = Common.Load(parse.GetValue(pipeline)!);
            if (spec.Aggregates.Count == 0)
                throw new ConfigException($"{spec.FilePath}: pipeline {spec.Name} declares no aggregates (add an aggregates: list; see DESIGN §4.2)");
            return await RunAsync(spec, parse.GetValue(full), line => io.Out.WriteLineAsync(line), line => io.Err.WriteLineAsync(line), io.Cancellation).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>
    /// Runs every aggregate of <paramref name="spec"/>, one after the other; a failing one is reported (one line, no
    /// secrets) and the next still runs. Exit 1 when any failed (2 when its definition does not fit the table): a failure leaves the bronze table and the state untouched
    /// and the result table at its last commit.
    /// </summary>
    public static async Task<int> RunAsync(PipelineSpec spec, bool full, Func<string, Task> report, Func<string, Task> error, CancellationToken cancellationToken)
    {
        var destinations = Composition.Destinations(spec);
        var exit = ExitCodes.Complete;
        try
        {
            foreach (var aggregate in spec.Aggregates)
            {
                var destination = destinations.OfType<IcebergDestination>().First(d => d.Name == aggregate.Destination);
                try
                {
                    var o = await destination.AggregateAsync(aggregate, full, cancellationToken).ConfigureAwait(false);
                    await report(Describe(o)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // One line without secrets (the cause's kind for a bare engine error); the bronze table and state stay untouched.
                    var failure = Failures.Describe(e);
                    exit = Math.Max(exit, failure.ExitCode == ExitCodes.Usage ? ExitCodes.Usage : ExitCodes.FailedChunks);
                    await error($"error: aggregate {aggregate.Name}: {Failures.OneLine(failure.Message)}").ConfigureAwait(false);
                }
            }
        }
        finally
        {
            foreach (var d in destinations) await d.DisposeAsync().ConfigureAwait(false);
        }
        return exit;
    }

    private static string Describe(AggregateOutcome o) => o.Mode switch
    {
        "empty" => $"{o.Aggregate}: the bronze table has no snapshot yet; nothing to aggregate",
        "up-to-date" => $"{o.Aggregate}: {o.Table} is up to date (bronze snapshot {o.SourceSnapshot})",
        "full" => string.Create(CultureInfo.InvariantCulture, $"{o.Aggregate}: full recompute ({o.Reason}) over {o.AddedFiles} data file(s): {o.Groups} group(s) in {o.Table}, snapshot {o.ResultSnapshot}, watermark bronze snapshot {o.SourceSnapshot}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{o.Aggregate}: +{o.AddedFiles} / -{o.RemovedFiles} data file(s) since the watermark: {o.Groups} group(s) in {o.Table}, snapshot {o.ResultSnapshot}, watermark bronze snapshot {o.SourceSnapshot}"),
    };
}
