using Ingot.Config;
using Ingot.Http;
using Microsoft.Data.Sqlite;

namespace Ingot.Engine;

/// <summary>What kind of failure an exception is, as far as the user and the engine's retry decisions care.</summary>
public enum FailureCause
{
    /// <summary>The pipeline file, a CLI option or the environment is wrong: nothing was attempted (exit 2).</summary>
    Configuration,
    /// <summary>The state database cannot be read (corrupt, truncated, not a SQLite file): exit 2.</summary>
    StateUnreadable,
    /// <summary>Another run holds the pipeline's lease (exit 3).</summary>
    LeaseHeld,
    /// <summary>The API refuses the credentials (HTTP 401/403): every request would be refused alike.</summary>
    Refused,
    /// <summary>No space left on the device (or a quota of the file system).</summary>
    DiskFull,
    /// <summary>The process may not write there (permissions, a read-only file system).</summary>
    PermissionDenied,
    /// <summary>A destination path cannot exist as a folder (a regular file sits on the way).</summary>
    NotWritable,
    /// <summary>Anything else: a unit's own failure (retried next run) or an engine error.</summary>
    Other,
}

/// <summary>An exception read once: its cause, a one-line message without secrets, and the exit code DESIGN §3 gives it.</summary>
public sealed record FailureInfo(FailureCause Cause, string Message, int ExitCode)
{
    /// <summary>
    /// Retries and further units cannot fix it: the same credentials, the same disk, the same folder. Identical permanent
    /// failures stop their stream (or, on a destination, the run) after a few units instead of spending a request per unit.
    /// </summary>
    public bool Permanent => Cause is FailureCause.Refused or FailureCause.DiskFull or FailureCause.PermissionDenied or FailureCause.NotWritable;
}

/// <summary>A destination proved before any request that it cannot write (the preflight probe under its <c>_tmp</c> area).</summary>
public sealed class DestinationUnwritableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The one place an exception becomes a cause, a message and an exit code: the CLI's failure handler, the run record of a
/// crashed run, and the engine's fail-fast decisions all read it, so they agree.
/// </summary>
public static class Failures
{
    // errno values (Linux) that .NET reports as IOException.HResult on Unix.
    private const int EPERM = 1, EACCES = 13, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, ENOSPC = 28, EROFS = 30, EDQUOT = 122;

    public static FailureInfo Describe(Exception e)
    {
        switch (e)
        {
            case AggregateException { InnerExceptions.Count: 1 } a:
                return Describe(a.InnerExceptions[0]);
            case ConfigException or LakeStateMismatchException or PlanConflictException:
                return new(FailureCause.Configuration, Redact.Message(e.Message), ExitCodes.Usage);
            case LeaseHeldException:
                return new(FailureCause.LeaseHeld, Redact.Message(e.Message), ExitCodes.LeaseHeld);
            case State.StateStoreException s:
                return new(s.Unreadable ? FailureCause.StateUnreadable : CauseOf(s.InnerException) ?? FailureCause.Other, Redact.Message(s.Message),
                    s.Unreadable ? ExitCodes.Usage : ExitCodes.FailedChunks);
            case DestinationUnwritableException d:
            {
                var cause = CauseOf(d.InnerException) ?? FailureCause.NotWritable;
                return new(cause, Redact.Message(d.Message), cause == FailureCause.NotWritable ? ExitCodes.Usage : ExitCodes.FailedChunks);
            }
            case HttpFailure { Kind: FailureKind.Permanent, Status: 401 or 403 } h:
                return new(FailureCause.Refused, Redact.Message(h.Message), ExitCodes.FailedChunks);
            case SqliteException sq:
                return new(SqliteCause(sq), $"state database: {Redact.Message(sq.Message)}", sq.SqliteErrorCode is 11 or 26 ? ExitCodes.Usage : ExitCodes.FailedChunks);
        }
        var found = CauseOf(e);
        var text = e is HttpFailure or IOException or UnauthorizedAccessException or FormatException or InvalidDataException or InvalidOperationException
            ? e.Message
            : $"{e.GetType().Name}: {e.Message}";
        return new(found ?? FailureCause.Other, Redact.Message(OneLine(text)), ExitCodes.FailedChunks);
    }

    /// <summary>The signature two failures share when they are "the same": their cause and, for a refusal, the status.</summary>
    public static string Signature(FailureInfo f, Exception e) =>
        e is HttpFailure { Status: { } status } ? $"{f.Cause}:{status}" : f.Cause.ToString();

    private static FailureCause SqliteCause(SqliteException e) => e.SqliteErrorCode switch
    {
        11 or 26 => FailureCause.StateUnreadable, // SQLITE_CORRUPT, SQLITE_NOTADB
        13 => FailureCause.DiskFull,              // SQLITE_FULL
        8 or 3 => FailureCause.PermissionDenied,  // SQLITE_READONLY, SQLITE_PERM
        _ => e.SqliteExtendedErrorCode == 3338 || e.SqliteErrorCode == 10 && IsDiskFullText(e.Message) ? FailureCause.DiskFull : FailureCause.Other,
    };

    /// <summary>Disk full, permission denied or an impossible folder anywhere in the chain, else null.</summary>
    private static FailureCause? CauseOf(Exception? e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case UnauthorizedAccessException:
                    return FailureCause.PermissionDenied;
                case SqliteException sq when SqliteCause(sq) is not FailureCause.Other and var c:
                    return c;
                case IOException io:
                    switch (io.HResult)
                    {
                        case ENOSPC or EDQUOT: return FailureCause.DiskFull;
                        case EACCES or EPERM or EROFS: return FailureCause.PermissionDenied;
                        case ENOTDIR or EEXIST or EISDIR: return FailureCause.NotWritable;
                    }
                    break;
            }
            // Native writers (DuckDB) report the OS error only in their text: the one place a message is read.
            if (IsDiskFullText(x.Message)) return FailureCause.DiskFull;
        }
        return null;
    }

    private static bool IsDiskFullText(string message) =>
        message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase) || message.Contains("database or disk is full", StringComparison.OrdinalIgnoreCase);

    /// <summary>The first line of a message: details (stack traces, inner dumps) belong in the run log, not the one-line error.</summary>
    public static string OneLine(string text)
    {
        var nl = text.IndexOfAny(['\r', '\n']);
        return nl < 0 ? text : text[..nl].TrimEnd();
    }
}
