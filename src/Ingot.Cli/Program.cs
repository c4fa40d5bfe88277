using System.CommandLine;
using Ingot.Cli;
using Ingot.Cli.Commands;

try
{
    return await Cli.RunAsync(args, Console.Out, Console.Error);
}
catch (Exception e)
{
    // Nothing reaches the user as a .NET crash (exit 134 and a stack trace): whatever escaped a command is mapped here too.
    return await Common.ReportAsync(Console.Error, e);
}

namespace Ingot.Cli
{
    /// <summary>The <c>ingot</c> command line. Tested in-process through <see cref="RunAsync"/>.</summary>
    internal static class Cli
    {
        public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
        {
            var root = new RootCommand("Ingot: bronze-layer ingestion — exactly once, atomic files, honest retries.");
            var io = new CliIo(stdout, stderr, cancellationToken);
            root.Subcommands.Add(RunCommand.Build(io));
            root.Subcommands.Add(PlanCommand.Build(io));
            root.Subcommands.Add(ValidateCommand.Build(io));
            root.Subcommands.Add(StatusCommand.Build(io));
            root.Subcommands.Add(RunsCommand.Build(io));
            root.Subcommands.Add(VerifyCommand.Build(io));
            root.Subcommands.Add(StateCommand.Build(io));
            root.Subcommands.Add(TuneCommand.Build(io));
            root.Subcommands.Add(SimCommand.Build(io));
            root.Subcommands.Add(IcebergCommand.Build(io));
            root.Subcommands.Add(AggregateCommand.Build(io));
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                foreach (var e in parse.Errors) await stderr.WriteLineAsync($"ingot: {e.Message}").ConfigureAwait(false);
                await stderr.WriteLineAsync("run 'ingot --help' for usage").ConfigureAwait(false);
                return 2;
            }
            var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
            return await parse.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
        }
    }

    internal sealed record CliIo(TextWriter Out, TextWriter Err, CancellationToken Cancellation);
}
