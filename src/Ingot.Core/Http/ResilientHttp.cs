using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Ingot.Config;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Ingot.Http;

/// <summary>A response the source accepted.</summary>
public sealed record HttpReply(int Status, byte[] Body, string? ContentType, int Attempts, TimeSpan Latency)
{
    /// <summary>The response's headers (content headers included), each name once with its values joined by ", ".</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>A header by name, ignoring case (<c>Link</c>), or null.</summary>
    public string? Header(string name) =>
        Headers.TryGetValue(name, out var v) ? v : Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>What the source says about a response: accept it, or fail with a kind.</summary>
public delegate HttpFailure? ResponseCheck(int status, byte[] body, string? contentType);

/// <summary>Told about every request attempt, retry and pause (for logs, metrics, progress).</summary>
public interface IHttpObserver
{
    void OnAttempt(string chunkKey, int attempt);
    void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait);
    void OnCircuitOpen(TimeSpan pause, string reason);
}

/// <summary>Spends a daily request quota, one reservation per attempt, persisted across runs.</summary>
public interface IQuotaGate
{
    /// <summary>Reserves one attempt; throws <see cref="QuotaExhaustedException"/> when the next request would pass the quota.</summary>
    Task ReserveAsync(CancellationToken cancellationToken);
}

/// <summary>
/// HTTP shared by every HTTP source: bounded concurrency, rolling-window rate limit, daily quota, per-attempt
/// timeout, retries with exponential backoff + jitter where Retry-After wins, and a circuit breaker that pauses
/// all workers (without spending their attempts) while the API is down.
/// </summary>
public sealed class ResilientHttp : IDisposable
{
    private readonly HttpClient _client;
    private readonly HttpSpec _spec;
    private readonly TimeProvider _time;
    private readonly IHttpObserver _observer;
    private readonly IQuotaGate? _quota;
    private readonly RollingWindowLimiter? _limiter;
    private readonly SemaphoreSlim _concurrency;
    private readonly CircuitPause _circuit;
    private readonly ResiliencePipeline<HttpReply> _pipeline;

    public ResilientHttp(HttpClient client, HttpSpec spec, TimeProvider time, IHttpObserver observer, IQuotaGate? quota)
    {
        _client = client;
        _spec = spec;
        _time = time;
        _observer = observer;
        _quota = quota;
        _limiter = spec.RateLimitPerSecond is { } r ? new RollingWindowLimiter(r, time) : null;
        _concurrency = new SemaphoreSlim(spec.Concurrency, spec.Concurrency);
        _circuit = new CircuitPause(spec.CircuitBreakerFailures, spec.CircuitBreakerPause, time, observer);
        _pipeline = new ResiliencePipelineBuilder<HttpReply> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpReply>
            {
                ShouldHandle = new PredicateBuilder<HttpReply>().Handle<HttpFailure>(f => f.IsTransient),
                MaxRetryAttempts = Math.Max(spec.Retries, 0) == 0 ? 1 : spec.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = spec.BackoffMin,
                MaxDelay = spec.BackoffMax,
                // Retry-After wins when the server sends it (capped: a server must not park us for hours).
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is HttpFailure { RetryAfter: { } ra } ? (TimeSpan?)TimeSpan.FromTicks(Math.Min(ra.Ticks, TimeSpan.FromMinutes(10).Ticks)) : null),
                OnRetry = args =>
                {
                    var f = args.Outcome.Exception as HttpFailure;
                    var key = args.Context.Properties.GetValue(ChunkKeyProperty, "");
                    _observer.OnRetry(key, args.AttemptNumber + 1, f?.Status, f?.Message ?? "unknown", args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        if (spec.Retries == 0) _pipeline = ResiliencePipeline<HttpReply>.Empty;
    }

    private static readonly ResiliencePropertyKey<string> ChunkKeyProperty = new("ingot.chunk");

    public int InFlight => _spec.Concurrency - _concurrency.CurrentCount;

    /// <summary>
    /// Sends a GET with retries. <paramref name="check"/> decides whether a complete response is data; transient
    /// failures are retried, the rest thrown as <see cref="HttpFailure"/>.
    /// </summary>
    public Task<HttpReply> GetAsync(Uri url, IReadOnlyDictionary<string, string> headers, ResponseCheck check, string chunkKey, CancellationToken cancellationToken) =>
        SendAsync(() => Request(HttpMethod.Get, url, headers), check, chunkKey, cancellationToken);

    /// <summary>
    /// Sends a POST of an <c>application/x-www-form-urlencoded</c> form (an OAuth 2.0 token request) with the same
    /// retries, limits and circuit as <see cref="GetAsync"/>.
    /// </summary>
    public Task<HttpReply> PostFormAsync(Uri url, IReadOnlyDictionary<string, string> headers, IReadOnlyList<KeyValuePair<string, string>> form, ResponseCheck check, string chunkKey,
        CancellationToken cancellationToken) =>
        SendAsync(() =>
        {
            var request = Request(HttpMethod.Post, url, headers);
            request.Content = new FormUrlEncodedContent(form);
            return request;
        }, check, chunkKey, cancellationToken);

    private static HttpRequestMessage Request(HttpMethod method, Uri url, IReadOnlyDictionary<string, string> headers)
    {
        var request = new HttpRequestMessage(method, url);
        foreach (var (k, v) in headers) request.Headers.TryAddWithoutValidation(k, v);
        return request;
    }

    private async Task<HttpReply> SendAsync(Func<HttpRequestMessage> build, ResponseCheck check, string chunkKey, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(ChunkKeyProperty, chunkKey);
        var attempt = 0;
        try
        {
            return await _pipeline.ExecuteAsync(async ctx =>
            {
                attempt++;
                return await AttemptAsync(build, check, chunkKey, attempt, ctx.CancellationToken).ConfigureAwait(false);
            }, context).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task<HttpReply> AttemptAsync(Func<HttpRequestMessage> build, ResponseCheck check, string chunkKey, int attempt, CancellationToken cancellationToken)
    {
        await _concurrency.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _circuit.WaitWhileOpenAsync(cancellationToken).ConfigureAwait(false);
            if (_quota is not null) await _quota.ReserveAsync(cancellationToken).ConfigureAwait(false);
            var slot = _limiter is null ? null : await _limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
            _observer.OnAttempt(chunkKey, attempt);
            using var request = build();
            using var activity = Observability.IngotTelemetry.Source.StartActivity("ingot.request", System.Diagnostics.ActivityKind.Client);
            if (activity is not null)
            {
                activity.SetTag("http.request.method", request.Method.Method);
                activity.SetTag("url.full", Redact.Url(request.RequestUri!));
                activity.SetTag("http.request.resend_count", attempt - 1);
            }
            var started = _time.GetTimestamp();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_spec.Timeout);
            try
            {
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (slot is not null) _limiter!.Complete(slot);
                var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                activity?.SetTag("http.response.status_code", status);
                var contentType = response.Content.Headers.ContentType?.ToString();
                var failure = check(status, body, contentType) ?? (status is >= 200 and < 300 ? null : Classify(status, body, contentType));
                if (failure is not null && failure.RetryAfter is null && RetryAfterOf(response) is { } ra)
                    failure = new HttpFailure(failure.Kind, failure.Status, failure.Message, ra);
                if (failure is null)
                {
                    _circuit.OnSuccess();
                    return new HttpReply(status, body, contentType, attempt, _time.GetElapsedTime(started)) { Headers = HeadersOf(response) };
                }
                if (failure.IsTransient && status >= 500) _circuit.OnFailure(failure.Message);
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, failure.Message);
                throw failure;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                _circuit.OnFailure("timeout");
                throw new HttpFailure(FailureKind.Transient, null, $"timeout after {Values.FormatDuration(_spec.Timeout)}");
            }
            catch (HttpRequestException e)
            {
                _circuit.OnFailure("connection error");
                throw new HttpFailure(FailureKind.Transient, null, $"connection error: {Redact.Message(e.Message)}", null, null);
            }
            catch (IOException e)
            {
                // A body cut short (Content-Length not reached) or a reset mid-body.
                _circuit.OnFailure("truncated body");
                throw new HttpFailure(FailureKind.Transient, null, $"response body cut short: {Redact.Message(e.Message)}");
            }
        }
        finally
        {
            _concurrency.Release();
        }
    }

    private static Dictionary<string, string> HeadersOf(HttpResponseMessage response)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers)) headers[name] = string.Join(", ", values);
        return headers;
    }

    private TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var ra = response.Headers.RetryAfter;
        if (ra is null) return null;
        if (ra.Delta is { } d) return d < TimeSpan.Zero ? TimeSpan.Zero : d;
        if (ra.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        return null;
    }

    /// <summary>The default reading of a non-2xx status.</summary>
    public static HttpFailure Classify(int status, byte[] body, string? contentType)
    {
        var message = ApiMessage(body, contentType);
        var text = $"HTTP {status}{(message is null ? "" : ": " + message)}";
        if (message is not null && (message.Contains("Quota exceeded", StringComparison.OrdinalIgnoreCase) || message.Contains("per day", StringComparison.OrdinalIgnoreCase)))
            return new HttpFailure(FailureKind.QuotaExhausted, status, text);
        return status switch
        {
            413 => new HttpFailure(FailureKind.TooLarge, status, text),
            408 or 429 or >= 500 => new HttpFailure(FailureKind.Transient, status, text),
            _ => new HttpFailure(FailureKind.Permanent, status, text),
        };
    }

    /// <summary>The API's own words from an error body: JSON detail/error/message/developerMessage, XML developerMessage, HTML title.</summary>
    public static string? ApiMessage(byte[] body, string? contentType)
    {
        if (body.Length == 0) return null;
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 4096)).Trim();
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var name in new[] { "developerMessage", "detail", "message", "error" })
                {
                    if (doc.RootElement.TryGetProperty(name, out var v))
                        return Redact.Message(v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : v.GetRawText());
                }
            }
        }
        catch (JsonException)
        {
        }
        var dev = Between(text, "<developerMessage>", "</developerMessage>") ?? Between(text, "<title>", "</title>");
        if (dev is not null) return Redact.Message(dev.Trim());
        return Redact.Message(text.Length > 200 ? text[..200] + "…" : text);
    }

    private static string? Between(string text, string open, string close)
    {
        var i = text.IndexOf(open, StringComparison.OrdinalIgnoreCase);
        if (i < 0) return null;
        var j = text.IndexOf(close, i + open.Length, StringComparison.OrdinalIgnoreCase);
        return j < 0 ? null : text[(i + open.Length)..j];
    }

    public void Dispose()
    {
        _concurrency.Dispose();
    }

    /// <summary>
    /// After <c>threshold</c> consecutive server-side failures, every worker waits <c>pause</c> before its next
    /// attempt instead of spending retries against a dead API; one success closes it.
    /// </summary>
    private sealed class CircuitPause(int threshold, TimeSpan pause, TimeProvider time, IHttpObserver observer)
    {
        private readonly Lock _lock = new();
        private int _consecutive;
        private DateTimeOffset _openUntil = DateTimeOffset.MinValue;

        public async Task WaitWhileOpenAsync(CancellationToken cancellationToken)
        {
            TimeSpan wait;
            lock (_lock) wait = _openUntil - time.GetUtcNow();
            if (wait > TimeSpan.Zero) await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }

        public void OnSuccess()
        {
            lock (_lock) _consecutive = 0;
        }

        public void OnFailure(string reason)
        {
            lock (_lock)
            {
                _consecutive++;
                var now = time.GetUtcNow();
                if (_consecutive >= threshold && _openUntil <= now)
                {
                    _openUntil = now + pause;
                    _consecutive = 0;
                    observer.OnCircuitOpen(pause, reason);
                }
            }
        }
    }
}
