using System.Security.Cryptography;
using System.Text;
using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Engine;

/// <summary>
/// Runs one pipeline: builds its sources and destinations from the registered connectors, the HTTP plumbing (one
/// resilient client per source, with its own rate limit, circuit and quota), the record processing, and the runner; then
/// plans, runs and summarises. The CLI only parses arguments and renders; <c>serve</c> calls the same thing.
/// </summary>
public sealed class PipelineRunner : IAsyncDisposable
{
    private readonly List<ISource> _sources = [];
    private readonly List<IDestination> _destinations = [];
    private readonly HttpClient _client;
    private Runner? _runner;
    private Storage.BlobStores? _stores;
    private IRunObserver? _observer;

    private PipelineRunner(PipelineSpec spec, HttpClient client)
    {
        Spec = spec;
        _client = client;
    }

    public PipelineSpec Spec { get; }

    public Guid RunId => _runner!.RunId;

    public Runner Runner => _runner!;

    public IReadOnlyList<IDestination> Destinations => _destinations;

    public IReadOnlyList<ISource> Sources => _sources;

    /// <summary>Registers every secret of the pipeline for redaction (before anything is logged).</summary>
    public static void RegisterSecrets(PipelineSpec spec)
    {
        foreach (var s in spec.Sources)
        {
            foreach (var secret in s.Secrets) Redact.Register(secret);
        }
        foreach (var d in spec.Destinations)
        {
            foreach (var secret in d.Secrets) Redact.Register(secret);
        }
        Redact.Register(spec.StateExport?.Store.SecretKey);
        Redact.Register(spec.LogUpload?.Store.SecretKey);
    }

    public static async Task<PipelineRunner> CreateAsync(PipelineSpec spec, ConnectorRegistry connectors, IStateStore state, IRunObserver observer,
        TimeProvider time, int? concurrency, Guid runId, CancellationToken cancellationToken)
    {
        RegisterSecrets(spec);
        var httpSpec = concurrency is { } c ? spec.Http with { Concurrency = c } : spec.Http;
        var runner = new PipelineRunner(spec, HttpClientFor(httpSpec));
        try
        {
            var info = new RunInfo(runId, spec.Name);
            var events = new HttpEvents(() => runner._runner, observer, () => info);
            ResilientHttp Http(SourceSpec s)
            {
                var quota = spec.Http.DailyQuota is { } q ? new StateQuotaGate(state, QuotaScope(s), q, time) : null;
                return new ResilientHttp(runner._client, httpSpec, time, events, quota);
            }
            var sourceServices = new SourceServices(spec, time, connectors.Stores, Http);
            foreach (var s in spec.Sources) runner._sources.Add(connectors.SourceFor(s).Create(s, sourceServices));
            runner._destinations.AddRange(CreateDestinations(spec, connectors, time));
            var processor = await Records.RecordProcessor.CreateAsync(spec, cancellationToken).ConfigureAwait(false);
            runner._runner = new Runner(spec, runner._sources, runner._destinations, state, observer, time, runId, processor)
            {
                ExportState = spec.StateExport is null ? null : ct => RunPublisher.ExportStateAsync(spec, state, connectors.Stores, ct),
            };
            runner._stores = connectors.Stores;
            runner._observer = observer;
            return runner;
        }
        catch
        {
            await runner.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The pipeline's destinations, and the quarantine beside the first lake when records are validated or transformed.</summary>
    public static IReadOnlyList<IDestination> CreateDestinations(PipelineSpec spec, ConnectorRegistry connectors, TimeProvider time)
    {
        var services = new DestinationServices(spec, time, connectors.Stores);
        var list = new List<IDestination>();
        foreach (var d in spec.Destinations) list.Add(connectors.DestinationFor(d).Create(d, services));
        // Quarantined records go beside the first destination's lake, after the data destinations landed.
        if ((spec.Validation is not null || spec.Transforms.Count > 0) && spec.Destinations.Select(d => d.Lake).FirstOrDefault(l => l is not null) is { } lake)
            list.Add(new QuarantineDestination(connectors.Stores.Open(lake.Path, lake.Store)));
        return list;
    }

    public Task<RunSummary> RunAsync(RunOptions options, CancellationToken stop) => _runner!.RunAsync(options, stop);

    /// <summary>
    /// <c>log_upload</c>: puts the finished run's log under the configured prefix. A failed upload is reported as an
    /// error event; it changes nothing that landed.
    /// </summary>
    public async Task<bool> UploadLogAsync(string runLog, DateTimeOffset startedAt, CancellationToken cancellationToken)
    {
        if (Spec.LogUpload is null) return true;
        try
        {
            await RunPublisher.UploadLogAsync(Spec, runLog, RunId, startedAt, _stores!, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _observer?.Message(new RunInfo(RunId, Spec.Name), "error", $"log_upload failed: {Failures.Describe(e).Message}");
            return false;
        }
    }

    /// <summary>Quota scope: source type + a fingerprint of the key (never the key itself).</summary>
    public static string QuotaScope(SourceSpec spec) =>
        $"{spec.Type}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec.QuotaKey ?? "")))[..12]}";

    public static HttpClient HttpClientFor(HttpSpec http) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = Math.Max(http.Concurrency, 1) * 2,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AutomaticDecompression = System.Net.DecompressionMethods.All,
        ConnectTimeout = TimeSpan.FromSeconds(30),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
        DefaultRequestHeaders = { { "User-Agent", "ingot/0.1" } },
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _sources) await s.DisposeAsync().ConfigureAwait(false);
        foreach (var d in _destinations) await d.DisposeAsync().ConfigureAwait(false);
        _client.Dispose();
    }
}

/// <summary>Spends the daily quota through the state store: persisted per source and key fingerprint per UTC day.</summary>
internal sealed class StateQuotaGate(IStateStore state, string scope, long quota, TimeProvider time) : IQuotaGate
{
    public async Task ReserveAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        if (!await state.TryReserveQuotaAsync(scope, day, quota, cancellationToken).ConfigureAwait(false))
        {
            var resume = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            throw new QuotaExhaustedException($"daily quota of {quota} requests is spent for {day:yyyy-MM-dd} (UTC); resume after {resume:yyyy-MM-dd'T'HH:mm:ss'Z'}", resume);
        }
    }
}

/// <summary>Bridges HTTP events to the run's counters and observers.</summary>
internal sealed class HttpEvents(Func<Runner?> runner, IRunObserver observer, Func<RunInfo> info) : IHttpObserver
{
    public void OnAttempt(string chunkKey, int attempt) => runner()?.CountAttempt(chunkKey);

    public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait)
    {
        runner()?.CountRetry();
        observer.Retry(info(), chunkKey, attempt, status, reason, wait);
    }

    public void OnCircuitOpen(TimeSpan pause, string reason) => observer.CircuitOpen(info(), pause, reason);
}
