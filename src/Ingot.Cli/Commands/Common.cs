using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using Ingot.Config;
using Ingot.Engine;
using Ingot.Http;

namespace Ingot.Cli.Commands;

internal static class Common
{
    public static Argument<string> PipelineArgument() => new("pipeline") { Description = "the pipeline YAML file" };

    public static Option<bool> JsonOption() => new("--json") { Description = "machine-readable JSON output" };

    /// <summary>
    /// Runs a command body: the one place a failure becomes an exit code of DESIGN §3 and a message — configuration errors
    /// one per line as <c>file:line:col: message</c>, anything else one line without secrets; the exception's details only
    /// with <c>INGOT_LOG_LEVEL=debug</c> (a run also keeps them in its run log).
    /// </summary>
    public static async Task<int> Guard(CliIo io, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (io.Cancellation.IsCancellationRequested)
        {
            await io.Err.WriteLineAsync("cancelled").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            return await ReportAsync(io.Err, e).ConfigureAwait(false);
        }
    }

    /// <summary>Prints a failure as the user should see it and returns its exit code.</summary>
    public static async Task<int> ReportAsync(TextWriter err, Exception e)
    {
        var failure = Failures.Describe(e);
        var lines = failure.Cause == FailureCause.Configuration ? failure.Message.Split('\n') : [Failures.OneLine(failure.Message)];
        foreach (var line in lines) await err.WriteLineAsync($"error: {line}").ConfigureAwait(false);
        if (string.Equals(Environment.GetEnvironmentVariable("INGOT_LOG_LEVEL"), "debug", StringComparison.OrdinalIgnoreCase))
            await err.WriteLineAsync(Redact.Message(e.ToString())).ConfigureAwait(false);
        return failure.ExitCode;
    }

    /// <summary>
    /// A whole-number (or decimal) option checked in the user's words: <c>--concurrency: 'abc' is not a whole number</c>,
    /// <c>--concurrency: 1001 is out of range (1..1000)</c>.
    /// </summary>
    public static Option<T> Number<T>(string name, string description, T min, T max, T defaultValue) where T : struct, INumber<T> =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue, CustomParser = r => Parse(r, name, min, max) ?? defaultValue };

    /// <summary>As <see cref="Number{T}"/>, absent by default.</summary>
    public static Option<T?> OptionalNumber<T>(string name, string description, T min, T max) where T : struct, INumber<T> =>
        new(name) { Description = description, CustomParser = r => Parse(r, name, min, max) };

    private static T? Parse<T>(ArgumentResult result, string name, T min, T max) where T : struct, INumber<T>
    {
        if (result.Tokens.Count == 0) return null;
        var text = result.Tokens[^1].Value;
        var whole = typeof(T) != typeof(double) && typeof(T) != typeof(decimal) && typeof(T) != typeof(float);
        if (!T.TryParse(text, whole ? NumberStyles.Integer : NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            result.AddError($"{name}: '{text}' is not a {(whole ? "whole number" : "number")}");
            return null;
        }
        if (value < min || value > max)
        {
            result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name}: {text} is out of range ({min}..{max})"));
            return null;
        }
        return value;
    }

    /// <summary>
    /// The state store for a command that only reads (plan, status, verify, runs): an absent store is never created — an
    /// empty one in memory stands in for it.
    /// </summary>
    public static State.IStateStore OpenExistingState(IngotSettings settings, TimeProvider time) =>
        settings.StatePath.Contains("://", StringComparison.Ordinal) || settings.StatePath.Contains("Host=", StringComparison.OrdinalIgnoreCase) || File.Exists(settings.StatePath)
            ? Composition.OpenState(settings, time)
            : State.SqliteStateStore.Open(":memory:", time);

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

    /// <summary>The reason a run record carries (a crashed run's failure, a run stopped by fail-fast).</summary>
    public static string? RunMessage(string? summary)
    {
        if (summary is null) return null;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(summary);
            return doc.RootElement.TryGetProperty("Message", out var m) && m.ValueKind == System.Text.Json.JsonValueKind.String ? m.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
