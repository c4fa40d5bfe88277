namespace Ingot.Sources.Files;

/// <summary>
/// A file that cannot be read as its format says: the file's unit of work fails with this message
/// (<c>path:line: reason</c>) and the other files land. Never transient: the same bytes fail the same way.
/// </summary>
public sealed class FileParseException : Exception
{
    public FileParseException(string path, long line, string reason)
        : base($"{path}:{line}: {reason}")
    {
        Path = path;
        Line = line;
        Reason = reason;
    }

    /// <summary>The file as the caller named it (<c>displayPath</c>).</summary>
    public string Path { get; }

    /// <summary>The 1-based physical line where the offending record (or byte) starts.</summary>
    public long Line { get; }

    /// <summary>The message without the <c>path:line:</c> prefix.</summary>
    public string Reason { get; }
}
