namespace Ingot.Simulators;

/// <summary>Fault kinds the simulators can inject into data requests.</summary>
[Flags]
public enum FaultKinds
{
    /// <summary>No injected faults.</summary>
    None = 0,

    /// <summary>A 5xx answer with a small body (KNMI: 500/502/503; NOAA: the CDO 500 JSON body).</summary>
    ServerError5xx = 1,

    /// <summary>The service's 429 body without a Retry-After header.</summary>
    TooManyRequests429 = 2,

    /// <summary>The service's 429 body with <c>Retry-After: RetryAfterSeconds</c>.</summary>
    TooManyRequests429RetryAfter = 4,

    /// <summary>The connection is aborted without any response.</summary>
    ConnectionReset = 8,

    /// <summary>The full Content-Length is declared, about half the body is written, then the connection is aborted.</summary>
    TruncatedBody = 16,

    /// <summary>NOAA only: an HTML maintenance page (status 200) or an Apache "Proxy Error" page (status 502).</summary>
    HtmlPage = 32,

    /// <summary>All fault kinds.</summary>
    All = 63,
}

/// <summary>Settings for one simulator instance; frozen once the simulator starts.</summary>
public sealed class SimulatorOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 picks an ephemeral port.</summary>
    public int Port { get; init; }

    /// <summary>Base latency added to every request that passes the gateway checks.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>Share (0..1) of data requests that get an injected fault.</summary>
    public double FailRate { get; init; }

    /// <summary>Which fault kinds may be injected (kinds a service does not support are ignored).</summary>
    public FaultKinds Faults { get; init; } = FaultKinds.All;

    /// <summary>Value of the Retry-After header for <see cref="FaultKinds.TooManyRequests429RetryAfter"/>.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>Requests admitted per rolling second; null = service default (KNMI 200, NOAA 5); <see cref="double.PositiveInfinity"/> = off.</summary>
    public double? RateLimitPerSecond { get; init; }

    /// <summary>NOAA: requests per UTC day (null = 10000). KNMI: requests per UTC hour (null = no quota).</summary>
    public long? DailyQuota { get; init; }

    /// <summary>Seed for the served data and for fault choices.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>The only API key (KNMI) or token (NOAA) accepted.</summary>
    public string ApiKey { get; init; } = "sim-key";

    /// <summary>Concurrent requests served at base latency; beyond it latency grows proportionally, past twice this a share get 503.</summary>
    public int Capacity { get; init; } = 64;

    /// <summary>KNMI: maximum locations × time steps × parameters per request before a 413.</summary>
    public long DataPointLimit { get; init; } = 376_000;

    /// <summary>KNMI: answer a single-station query with a bare <c>Coverage</c> instead of a <c>CoverageCollection</c>.</summary>
    public bool BareCoverageForSingleStation { get; init; }

    /// <summary>KNMI: answer an exhausted quota with 429 (KNMI FAQ) instead of Tyk's default 403.</summary>
    public bool QuotaExceededAs429 { get; init; }

    /// <summary>Clock for rate windows, quotas, temporal extents and latency.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>One entry of a simulator's request log.</summary>
/// <param name="At">Arrival time (from the simulator's clock).</param>
/// <param name="Method">HTTP method.</param>
/// <param name="PathAndQuery">Path and query string as received.</param>
/// <param name="Status">Status code sent; 0 when the connection was reset without a response.</param>
/// <param name="Fault">Injected fault (a <see cref="FaultKinds"/> name) or model rejection (<c>RateLimited</c>, <c>QuotaExceeded</c>, <c>Overloaded</c>); null otherwise.</param>
/// <param name="Authorized">Whether the key/token was accepted.</param>
/// <param name="RetryAfter">The Retry-After sent, if any.</param>
/// <param name="Concurrent">Requests in flight when this one arrived, itself included.</param>
public sealed record SimRequest(DateTimeOffset At, string Method, string PathAndQuery, int Status, string? Fault, bool Authorized, TimeSpan? RetryAfter, int Concurrent);
