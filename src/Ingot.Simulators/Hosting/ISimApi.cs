using Microsoft.AspNetCore.Http;

namespace Ingot.Simulators;

/// <summary>What differs between the simulated services; <see cref="SimPipeline"/> does the rest.</summary>
internal interface ISimApi
{
    /// <summary>Path prefix, e.g. <c>/edr/v1</c>.</summary>
    string BasePath { get; }

    double DefaultRateLimit { get; }

    /// <summary>Quota size when <see cref="SimulatorOptions.DailyQuota"/> is null; null = no quota.</summary>
    long? DefaultQuota { get; }

    /// <summary>Length of a quota window (KNMI: an hour, NOAA: a UTC day).</summary>
    TimeSpan QuotaWindow { get; }

    /// <summary>NOAA counts every request toward the quota, so the quota is checked before the per-second limit.</summary>
    bool QuotaBeforeRateLimit { get; }

    /// <summary>Whether the gateway sends X-RateLimit-* headers.</summary>
    bool EmitsRateLimitHeaders { get; }

    FaultKinds SupportedFaults { get; }

    bool IsDataRequest(PathString path);

    /// <summary>Null when the request carries the right key.</summary>
    SimResponse? CheckAuth(HttpRequest request);

    SimResponse RateLimited();

    SimResponse QuotaExceeded(long quota);

    SimResponse Overloaded();

    /// <summary>The answer for an injected fault that produces a response (not resets or truncation).</summary>
    SimResponse Fault(FaultKinds kind, Random random, HttpRequest request);

    SimResponse Handle(HttpRequest request, DateTimeOffset now);

    /// <summary>For handlers that read a request body (a token form, an admin change); the default is <see cref="Handle"/>.</summary>
    ValueTask<SimResponse> HandleAsync(HttpRequest request, DateTimeOffset now) => ValueTask.FromResult(Handle(request, now));

    /// <summary>A test-control request (the shop's <c>/admin/*</c>): no auth, rate window, quota, latency or faults.</summary>
    bool IsAdminRequest(PathString path) => false;
}
