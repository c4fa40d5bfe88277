namespace Ingot.DuckDb.Native;

/// <summary>An error DuckDB reported (a failed query, append or open). Never transient: retrying the same SQL fails the same way.</summary>
internal sealed class DuckDbException(string message, Exception? inner = null) : Exception(message, inner);
