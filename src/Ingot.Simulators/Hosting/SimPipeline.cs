using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Ingot.Simulators;

/// <summary>
/// The request path shared by both simulators: auth, rate window, quota, capacity model, latency,
/// fault injection, then the service handler; every request lands in the log.
/// </summary>
internal sealed class SimPipeline
{
    private readonly ISimApi _api;
    private readonly SimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly RequestLog _log = new();
    private readonly Lock _randomGate = new();
    private readonly Random _random;
    private readonly FaultKinds[] _faults;
    private readonly Lock _limitGate = new();
    private readonly Queue<DateTimeOffset> _window = new();
    private readonly double _rateLimit;
    private readonly long? _quota;
    private long _quotaPeriod = long.MinValue;
    private long _quotaUsed;
    private int _inFlight;
    private int _dataRequests;
    private long _dataServiceTicks;

    public SimPipeline(ISimApi api, SimulatorOptions options)
    {
        _api = api;
        _options = options;
        _time = options.TimeProvider;
        _random = new Random(options.Seed);
        var enabled = options.Faults & api.SupportedFaults;
        _faults = Enum.GetValues<FaultKinds>()
            .Where(k => k is not FaultKinds.None and not FaultKinds.All && enabled.HasFlag(k))
            .ToArray();
        _rateLimit = options.RateLimitPerSecond is { } r && r > 0 ? r : api.DefaultRateLimit;
        _quota = options.DailyQuota ?? api.DefaultQuota;
    }

    public IReadOnlyList<SimRequest> Requests => _log.Snapshot();

    public int DataRequestCount => Volatile.Read(ref _dataRequests);

    /// <summary>The time data requests spent in the simulator, from arrival to the last byte of the response written, summed.</summary>
    public TimeSpan DataServiceTime => TimeSpan.FromTicks(Interlocked.Read(ref _dataServiceTicks));

    public async Task InvokeAsync(HttpContext context)
    {
        var at = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        var concurrent = Interlocked.Increment(ref _inFlight);
        var slot = _log.Reserve();
        var request = context.Request;
        var pathAndQuery = request.Path.Value + request.QueryString.Value;
        var isData = _api.IsDataRequest(request.Path);
        if (isData)
        {
            Interlocked.Increment(ref _dataRequests);
        }

        var status = 0;
        string? fault = null;
        var authorized = false;
        TimeSpan? retryAfter = null;
        try
        {
            var admin = _api.IsAdminRequest(request.Path);
            authorized = admin;
            var response = admin ? await _api.HandleAsync(request, at).ConfigureAwait(false) : _api.CheckAuth(request);
            if (response is null)
            {
                authorized = true;
                response = await ServeAuthorizedAsync(context, at, concurrent, isData).ConfigureAwait(false);
            }

            fault = response?.Fault;
            retryAfter = response?.RetryAfter;
            if (response is null)
            {
                // Connection reset: no response at all.
                fault = nameof(FaultKinds.ConnectionReset);
                context.Abort();
            }
            else if (response.Fault == nameof(FaultKinds.TruncatedBody))
            {
                status = response.Status;
                await WriteTruncatedAsync(context, response).ConfigureAwait(false);
            }
            else
            {
                status = response.Status;
                await WriteAsync(context, response).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
            fault ??= "ClientAborted";
        }
        finally
        {
            if (isData) Interlocked.Add(ref _dataServiceTicks, _time.GetElapsedTime(started).Ticks);
            Interlocked.Decrement(ref _inFlight);
            _log.Complete(slot, new SimRequest(at, request.Method, pathAndQuery, status, fault, authorized, retryAfter, concurrent));
        }
    }

    private async Task<SimResponse?> ServeAuthorizedAsync(HttpContext context, DateTimeOffset at, int concurrent, bool isData)
    {
        var gate = Admit(at);
        if (_api.EmitsRateLimitHeaders)
        {
            var headers = context.Response.Headers;
            headers["X-RateLimit-Limit"] = gate.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining"] = gate.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = gate.Reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        if (gate.Rejection is not null)
        {
            return gate.Rejection;
        }

        var capacity = Math.Max(1, _options.Capacity);
        var delay = _options.Latency;
        if (concurrent > capacity)
        {
            delay *= (double)concurrent / capacity;
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, _time, context.RequestAborted).ConfigureAwait(false);
        }

        FaultKinds? injected = null;
        lock (_randomGate)
        {
            // Past twice the capacity a growing share is shed: (c - 2C) / C, so 3C in flight sheds everything.
            if (concurrent > 2 * capacity && _random.NextDouble() < (double)(concurrent - 2 * capacity) / capacity)
            {
                return _api.Overloaded() with { Fault = "Overloaded" };
            }

            if (isData && _faults.Length > 0 && _options.FailRate > 0 && _random.NextDouble() < _options.FailRate)
            {
                injected = _faults[_random.Next(_faults.Length)];
            }
        }

        switch (injected)
        {
            case FaultKinds.ConnectionReset:
                return null;
            case FaultKinds.TruncatedBody:
                return _api.Handle(context.Request, at) with { Fault = nameof(FaultKinds.TruncatedBody) };
            case { } kind:
                SimResponse faulted;
                lock (_randomGate)
                {
                    faulted = _api.Fault(kind, _random, context.Request);
                }

                return faulted with { Fault = kind.ToString() };
            default:
                return await _api.HandleAsync(context.Request, at).ConfigureAwait(false);
        }
    }

    private readonly record struct GateResult(SimResponse? Rejection, long Limit, long Remaining, DateTimeOffset Reset);

    private GateResult Admit(DateTimeOffset at)
    {
        lock (_limitGate)
        {
            while (_window.Count > 0 && _window.Peek() <= at - TimeSpan.FromSeconds(1))
            {
                _window.Dequeue();
            }

            var period = at.UtcTicks / _api.QuotaWindow.Ticks;
            if (period != _quotaPeriod)
            {
                _quotaPeriod = period;
                _quotaUsed = 0;
            }

            var quotaReset = new DateTimeOffset((period + 1) * _api.QuotaWindow.Ticks, TimeSpan.Zero);
            var rateReset = _window.Count > 0 ? _window.Peek() + TimeSpan.FromSeconds(1) : at + TimeSpan.FromSeconds(1);
            var rateLimit = double.IsInfinity(_rateLimit) ? long.MaxValue : (long)Math.Ceiling(_rateLimit);

            GateResult Result(SimResponse? rejection) => _quota is { } q
                ? new GateResult(rejection, q, Math.Max(0, q - _quotaUsed), quotaReset)
                : new GateResult(rejection, rateLimit, Math.Max(0, rateLimit - _window.Count), rateReset);

            var overQuota = _quota is { } quota && _quotaUsed >= quota;
            var overRate = _window.Count >= _rateLimit;
            if (_api.QuotaBeforeRateLimit)
            {
                if (overQuota)
                {
                    return Result(_api.QuotaExceeded(_quota!.Value) with { Fault = "QuotaExceeded" });
                }

                _quotaUsed++;
                if (overRate)
                {
                    return Result(_api.RateLimited() with { Fault = "RateLimited" });
                }
            }
            else
            {
                if (overRate)
                {
                    return Result(_api.RateLimited() with { Fault = "RateLimited" });
                }

                if (overQuota)
                {
                    return Result(_api.QuotaExceeded(_quota!.Value) with { Fault = "QuotaExceeded" });
                }

                _quotaUsed++;
            }

            _window.Enqueue(at);
            return Result(null);
        }
    }

    private static Task WriteAsync(HttpContext context, SimResponse response)
    {
        var http = context.Response;
        http.StatusCode = response.Status;
        http.ContentType = response.ContentType;
        foreach (var (name, value) in response.Headers)
        {
            http.Headers[name] = value;
        }

        if (response.RetryAfter is { } retryAfter)
        {
            http.Headers.RetryAfter = ((int)retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        http.ContentLength = response.Body.Length;
        return http.Body.WriteAsync(response.Body, context.RequestAborted).AsTask();
    }

    private static async Task WriteTruncatedAsync(HttpContext context, SimResponse response)
    {
        var http = context.Response;
        http.StatusCode = response.Status;
        http.ContentType = response.ContentType;
        http.ContentLength = response.Body.Length;
        await http.Body.WriteAsync(response.Body.AsMemory(0, response.Body.Length / 2), context.RequestAborted).ConfigureAwait(false);
        await http.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        context.Abort();
    }
}
