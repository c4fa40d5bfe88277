namespace Ingot.Config;

/// <summary>A configuration or usage error, found before any request is made. The CLI exits 2.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string message) : base(message) { }

    public ConfigException(string file, long line, long column, string message)
        : base($"{file}:{line}:{column}: {message}")
    {
        File = file;
        Line = line;
        Column = column;
        Detail = message;
    }

    /// <summary>Several configuration errors reported at once (sorted by position, at most <see cref="MaxReported"/> listed).</summary>
    public ConfigException(IReadOnlyList<ConfigException> errors)
        : base(Join(errors))
    {
        Errors = errors;
        var first = errors[0];
        File = first.File;
        Line = first.Line;
        Column = first.Column;
        Detail = first.Detail;
    }

    public const int MaxReported = 20;

    private static string Join(IReadOnlyList<ConfigException> errors)
    {
        var lines = errors.Take(MaxReported).Select(e => e.Message).ToList();
        if (errors.Count > MaxReported) lines.Add($"… and {errors.Count - MaxReported} more configuration errors");
        return string.Join('\n', lines);
    }

    /// <summary>Every error found (one element for a single error).</summary>
    public IReadOnlyList<ConfigException> Errors { get; } = [];

    public string? File { get; }
    public long Line { get; }
    public long Column { get; }
    public string? Detail { get; }
}
