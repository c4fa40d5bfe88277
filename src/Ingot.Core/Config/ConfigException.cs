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

    public string? File { get; }
    public long Line { get; }
    public long Column { get; }
    public string? Detail { get; }
}
