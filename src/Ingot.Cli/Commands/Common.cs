using System.CommandLine;
using Ingot.Config;
using Ingot.Engine;

namespace Ingot.Cli.Commands;

internal static class Common
{
    public static Argument<string> PipelineArgument() => new("pipeline") { Description = "the pipeline YAML file" };

    public static Option<bool> JsonOption() => new("--json") { Description = "machine-readable JSON output" };

    /// <summary>Runs a command body; configuration errors print <c>file:line:col: message</c> and exit 2.</summary>
    public static async Task<int> Guard(CliIo io, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (ConfigException e)
        {
            await io.Err.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is LakeStateMismatchException or PlanConflictException)
        {
            await io.Err.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (LeaseHeldException e)
        {
            await io.Err.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.LeaseHeld;
        }
    }

    public static (IngotSettings Settings, PipelineSpec Spec) Load(string file)
    {
        var settings = IngotSettings.Load(Directory.GetCurrentDirectory());
        var spec = PipelineLoader.Load(file, settings.Environment, Composition.Registry);
        PipelineRunner.RegisterSecrets(spec);
        return (settings, spec);
    }

    /// <summary><c>--streams a,b</c> as a set; null (every stream) when absent.</summary>
    public static IReadOnlySet<string>? Streams(string? text)
    {
        if (text is null) return null;
        var set = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        return set.Count == 0 ? throw new ConfigException("--streams: name at least one stream, e.g. --streams customers,orders") : set;
    }

    public static void CheckRange(DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is not null && to is not null && from >= to) throw new ConfigException($"--from {from:O} is not before --to {to:O}: the range [from, to) would be empty");
    }

    public static DateTimeOffset? Instant(string? text, string option)
    {
        if (text is null) return null;
        return Values.TryInstant(text, out var t) ? t : throw new ConfigException($"{option}: '{text}' is not a UTC time like 2024-01-01T00:00:00Z");
    }
}
