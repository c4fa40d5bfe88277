using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;

namespace Ingot.S3;

/// <summary>Turns SDK and network exceptions into <see cref="S3StoreException"/> with a transient flag.</summary>
internal static class S3Errors
{
    private static readonly HashSet<string> TransientCodes = new(StringComparer.Ordinal)
    {
        "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
        "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "RequestTimeout", "RequestTimeoutException",
        "InternalError", "ServiceUnavailable", "PriorRequestNotComplete", "OperationAborted",
    };

    /// <summary>True for exceptions this class wraps; cancellation of the caller's token is never wrapped.</summary>
    public static bool ShouldWrap(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        S3StoreException => false,
        OperationCanceledException when cancellationToken.IsCancellationRequested => false,
        AmazonServiceException or AmazonClientException or HttpRequestException or IOException or SocketException
            or TimeoutException or OperationCanceledException => true,
        _ => false,
    };

    public static S3StoreException Wrap(Exception ex, string operation, string bucket, string? key, S3Settings settings)
    {
        string? code = null;
        HttpStatusCode? status = null;
        bool transient;
        switch (ex)
        {
            case AmazonServiceException service:
                code = service.ErrorCode;
                status = service.StatusCode == 0 ? null : service.StatusCode;
                transient = (int)service.StatusCode >= 500
                    || service.StatusCode == HttpStatusCode.TooManyRequests
                    || service.StatusCode == HttpStatusCode.RequestTimeout
                    || (code is not null && TransientCodes.Contains(code))
                    || (service.StatusCode == 0 && IsNetwork(service.InnerException));
                break;
            case AmazonClientException client:
                transient = IsNetwork(client.InnerException);
                break;
            default:
                transient = IsNetwork(ex) || ex is OperationCanceledException or TimeoutException;
                break;
        }
        var target = key is null ? $"s3://{bucket}" : $"s3://{bucket}/{key}";
        var what = code ?? ex.GetType().Name;
        var statusText = status is null ? "" : $", HTTP {(int)status}";
        var message = $"S3 {operation} failed for {target}: {what}{statusText}: {Redact(ex.Message, settings)}";
        // The inner exception is kept for diagnosis; SDK messages carry no secrets (signature errors name the
        // access key id at most), and our own message is redacted.
        return new S3StoreException(message, bucket, key, code, status, transient, ex);
    }

    internal static string Redact(string text, S3Settings settings)
    {
        foreach (var secret in new[] { settings.SecretKey, settings.AccessKey })
        {
            if (!string.IsNullOrEmpty(secret)) text = text.Replace(secret, "***", StringComparison.Ordinal);
        }
        return text;
    }

    private static bool IsNetwork(Exception? ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException or SocketException or IOException or TimeoutException or TaskCanceledException) return true;
        }
        return false;
    }
}
