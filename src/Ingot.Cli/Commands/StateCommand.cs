using System.CommandLine;
using Ingot.Engine;

namespace Ingot.Cli.Commands;

/// <summary><c>ingot state rebuild &lt;pipeline&gt;</c>: restores the state store from what the lake says landed.</summary>
internal static class StateCommand
{
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var rebuild = new Command("rebuild", "restore the pipeline's state from the lake's own records (raw manifests, Parquet unit records)") { pipeline };
        rebuild.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (settings, spec) = Common.Load(parse.GetValue(pipeline)!);
            var time = TimeProvider.System;
            await using var state = Composition.OpenState(settings, time);
            var destinations = Composition.Destinations(spec);
            var lockId = Guid.NewGuid();
            var lease = await state.TryAcquireLeaseAsync(spec.Name, lockId, Runner.LeaseTtl, io.Cancellation).ConfigureAwait(false);
            if (!lease.Acquired) throw new LeaseHeldException($"pipeline {spec.Name} is being run by run {lease.Holder!.RunId}; rebuild its state when no run is active");
            try
            {
                var result = await StateRebuild.RunAsync(spec, destinations, state, time, io.Cancellation).ConfigureAwait(false);
                await io.Out.WriteLineAsync(
                    $"state of {spec.Name} rebuilt from the lake into {state.Describe}: {result.Complete} unit(s) restored as done (landed by {result.Runs} run(s)), " +
                    $"{result.Incomplete} incomplete (held by only some destinations: the next run removes their files and lands them again), " +
                    $"{result.AlreadyKnown} already known").ConfigureAwait(false);
                return 0;
            }
            finally
            {
                await state.ReleaseLeaseAsync(spec.Name, lockId, io.Cancellation).ConfigureAwait(false);
                foreach (var d in destinations) await d.DisposeAsync().ConfigureAwait(false);
            }
        }));
        return new Command("state", "the state store: rebuild it from the lake") { rebuild };
    }
}
