using System.Net;

namespace Ingot.S3;

/// <summary>
/// An S3 operation failed. The message names the operation, bucket, key and S3 error code, never credentials.
/// Public because it crosses the <see cref="Ingot.Storage.IBlobStore"/> boundary: callers decide retries with
/// <see cref="IsTransient"/>, never by parsing the message.
/// </summary>
public sealed class S3StoreException : IOException
{
    internal S3StoreException(string message, string bucket, string? key, string? errorCode, HttpStatusCode? statusCode, bool isTransient, Exception? inner)
        : base(message, inner)
    {
        Bucket = bucket;
        Key = key;
        ErrorCode = errorCode;
        StatusCode = statusCode;
        IsTransient = isTransient;
    }

    /// <summary>The bucket of the failed operation.</summary>
    public string Bucket { get; }

    /// <summary>The key (or key prefix for listings) of the failed operation, when there is one.</summary>
    public string? Key { get; }

    /// <summary>The S3 error code (e.g. <c>NoSuchBucket</c>, <c>SlowDown</c>), or null for network and client errors.</summary>
    public string? ErrorCode { get; }

    /// <summary>The HTTP status of the S3 response, or null when none arrived.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>True when retrying the same operation may succeed: 5xx, throttling, timeouts, network failures.</summary>
    public bool IsTransient { get; }
}
