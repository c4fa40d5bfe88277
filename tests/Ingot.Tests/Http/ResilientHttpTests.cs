using System.Diagnostics;
using System.Net;
using Ingot.Config;
using Ingot.Http;

namespace Ingot.Tests.Http;

/// <summary>ResilientHttp against scripted answers (fault injection by handler): retries, Retry-After, circuit pause, permanent errors.</summary>
public sealed class ResilientHttpTests
{
    private sealed class Script(Func<int, HttpResponseMessage> answer) : HttpMessageHandler
    {
        private int _n;
        public List<(DateTimeOffset At, Uri Url)> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Seen) Seen.Add((DateTimeOffset.UtcNow, request.RequestUri!));
            return Task.FromResult(answer(Interlocked.Increment(ref _n)));
        }
    }

    private sealed class Events : IHttpObserver
    {
        public int Attempts;
        public List<(int? Status, TimeSpan Wait)> Retries { get; } = [];
        public List<TimeSpan> Pauses { get; } = [];
        public void OnAttempt(string chunkKey, int attempt) => Interlocked.Increment(ref Attempts);
        public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { lock (Retries) Retries.Add((status, wait)); }
        public void OnCircuitOpen(TimeSpan pause, string reason) { lock (Pauses) Pauses.Add(pause); }
    }

    private static HttpResponseMessage Status(int code, string body = "{}") => new((HttpStatusCode)code) { Content = new StringContent(body) };

    private static readonly HttpSpec Fast = HttpSpec.Default with
    {
        Retries = 4, BackoffMin = TimeSpan.FromMilliseconds(1), BackoffMax = TimeSpan.FromMilliseconds(5), Timeout = TimeSpan.FromSeconds(5),
        CircuitBreakerFailures = 100, CircuitBreakerPause = TimeSpan.FromMilliseconds(300),
    };

    private static Task<HttpReply> Get(ResilientHttp http) =>
        http.GetAsync(new Uri("http://api.test/x"), new Dictionary<string, string>(), (_, _, _) => null, "chunk", TestContext.Current.CancellationToken);

    [Fact]
    public async Task GetAsync_TwoServerErrorsThenOk_RetriesAndReturnsTheBody()
    {
        var script = new Script(n => n <= 2 ? Status(503) : Status(200, "{\"ok\":1}"));
        var events = new Events();
        using var http = new ResilientHttp(new HttpClient(script), Fast, TimeProvider.System, events, null);

        var reply = await Get(http);

        reply.Status.ShouldBe(200);
        reply.Attempts.ShouldBe(3);
        events.Retries.Select(r => r.Status).ShouldBe([503, 503]);
    }

    [Fact]
    public async Task GetAsync_RetryAfterSeconds_WaitsThatLongInsteadOfTheBackoff()
    {
        var script = new Script(n => n == 1 ? new HttpResponseMessage((HttpStatusCode)429) { Headers = { RetryAfter = new(TimeSpan.FromSeconds(1)) }, Content = new StringContent("{}") } : Status(200));
        var events = new Events();
        using var http = new ResilientHttp(new HttpClient(script), Fast, TimeProvider.System, events, null);

        await Get(http);

        events.Retries.Single().Wait.ShouldBe(TimeSpan.FromSeconds(1));
        (script.Seen[1].At - script.Seen[0].At).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(950));
    }

    [Fact]
    public async Task GetAsync_RetryAfterHttpDate_IsHonoured()
    {
        var script = new Script(n => n == 1
            ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Headers = { RetryAfter = new(DateTimeOffset.UtcNow.AddSeconds(2)) }, Content = new StringContent("{}") }
            : Status(200));
        var events = new Events();
        using var http = new ResilientHttp(new HttpClient(script), Fast, TimeProvider.System, events, null);

        await Get(http);

        events.Retries.Single().Wait.ShouldBeGreaterThan(TimeSpan.FromMilliseconds(900));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(404)]
    public async Task GetAsync_ClientError_FailsAtOnceWithTheApisMessage(int status)
    {
        var script = new Script(_ => Status(status, "{\"error\": \"Access to this API has been disallowed\"}"));
        using var http = new ResilientHttp(new HttpClient(script), Fast, TimeProvider.System, new Events(), null);

        var failure = await Should.ThrowAsync<HttpFailure>(() => Get(http));

        failure.Kind.ShouldBe(FailureKind.Permanent);
        failure.Message.ShouldBe($"HTTP {status}: Access to this API has been disallowed");
        script.Seen.Count.ShouldBe(1);
    }

    [Fact]
    public async Task GetAsync_RetriesExhausted_ThrowsTheLastTransientFailure()
    {
        var script = new Script(_ => Status(500, "{\"detail\":\"boom\"}"));
        using var http = new ResilientHttp(new HttpClient(script), Fast, TimeProvider.System, new Events(), null);

        var failure = await Should.ThrowAsync<HttpFailure>(() => Get(http));

        failure.IsTransient.ShouldBeTrue();
        failure.Message.ShouldBe("HTTP 500: boom");
        script.Seen.Count.ShouldBe(5, "the first attempt and 4 retries");
    }

    [Fact]
    public async Task GetAsync_ApiDown_CircuitPausesEveryWorkerWithoutSpendingAttempts()
    {
        // Given an API down for its first 6 answers, a breaker opening after 3 consecutive failures for 300 ms
        var script = new Script(n => n <= 6 ? Status(503) : Status(200));
        var events = new Events();
        var spec = Fast with { CircuitBreakerFailures = 3, Retries = 6, Concurrency = 4 };
        using var http = new ResilientHttp(new HttpClient(script), spec, TimeProvider.System, events, null);

        // When four workers fetch at once
        var clock = Stopwatch.StartNew();
        var replies = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Get(http)));

        // Then all succeed after the circuit opened and paused them
        replies.ShouldAllBe(r => r.Status == 200);
        events.Pauses.Count.ShouldBeGreaterThanOrEqualTo(1);
        clock.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290));
        var pauseGap = script.Seen.Zip(script.Seen.Skip(1), (a, b) => b.At - a.At).Max();
        pauseGap.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250), "no request went out while the circuit was open");
    }

    [Fact]
    public async Task GetAsync_QuotaGateSpent_ThrowsQuotaExhaustedBeforeAnyRequest()
    {
        var script = new Script(_ => Status(200));
        using var http = new ResilientHttp(new HttpClient(script), Fast, TimeProvider.System, new Events(), new SpentQuota());

        await Should.ThrowAsync<QuotaExhaustedException>(() => Get(http));

        script.Seen.ShouldBeEmpty();
    }

    private sealed class SpentQuota : IQuotaGate
    {
        public Task ReserveAsync(CancellationToken cancellationToken) => throw new QuotaExhaustedException("spent", null);
    }
}
