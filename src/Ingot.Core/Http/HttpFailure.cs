namespace Ingot.Http;

public enum FailureKind
{
    /// <summary>Worth another attempt: 5xx, 429 per-second, connection errors, truncated or unparsable bodies.</summary>
    Transient,
    /// <summary>The request itself is wrong or refused (400/401/403/404): the chunk fails, no retry.</summary>
    Permanent,
    /// <summary>The daily or hourly quota is spent: the run stops, resumable (exit 4).</summary>
    QuotaExhausted,
    /// <summary>The request asks for too much (KNMI 413): the source splits it.</summary>
    TooLarge,
}

/// <summary>A failed HTTP exchange. Retry decisions read <see cref="Kind"/>, never the message.</summary>
public sealed class HttpFailure(FailureKind kind, int? status, string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    public FailureKind Kind { get; } = kind;
    public int? Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;
    public bool IsTransient => Kind == FailureKind.Transient;
}

/// <summary>The run must stop because the quota is spent; what is in flight finishes or rolls back.</summary>
public sealed class QuotaExhaustedException(string message, DateTimeOffset? resumeAt) : Exception(message)
{
    public DateTimeOffset? ResumeAt { get; } = resumeAt;
}
