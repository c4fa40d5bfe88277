using System.Security.Cryptography;
using System.Text;
using Ingot.Cli.Output;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Sources;
using Ingot.Sources.Knmi;
using Ingot.State;
using Ingot.Storage;

namespace Ingot.Cli;

/// <summary>The composition root: turns a frozen pipeline spec into a source, destinations and HTTP plumbing.</summary>
internal static class Composition
{
    public static BlobStores Stores { get; } = new([new Ingot.S3.S3BlobStoreOpener()]);

    public static IStateStore OpenState(IngotSettings settings, TimeProvider time)
    {
        if (settings.StatePath.StartsWith("postgres", StringComparison.OrdinalIgnoreCase) || settings.StatePath.Contains("Host=", StringComparison.OrdinalIgnoreCase))
            throw new ConfigException("INGOT_STATE: a PostgreSQL state store is not available in this build yet; unset INGOT_STATE to use the embedded SQLite store");
        return SqliteStateStore.Open(settings.StatePath, time);
    }

    public static IReadOnlyList<IDestination> Destinations(PipelineSpec spec)
    {
        var list = new List<IDestination>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var d in spec.Destinations)
        {
            counts[d.Type] = counts.GetValueOrDefault(d.Type) + 1;
            var name = counts[d.Type] == 1 ? d.Type : $"{d.Type}#{counts[d.Type]}";
            var store = Stores.Open(d.Path, d.Store);
            list.Add(d.Type switch
            {
                "raw" => new RawDestination(store, name),
                "parquet" => DuckDb.Parquet.ParquetDestination.Create(d, store, spec.Name, name),
                _ => throw new ConfigException($"{spec.FilePath}: destination type '{d.Type}' is not available in this build"),
            });
        }
        // Quarantined records go beside the first destination's lake, after the data destinations landed.
        if (spec.Validation is not null || spec.Transforms.Count > 0)
            list.Add(new QuarantineDestination(Stores.Open(spec.Destinations[0].Path, spec.Destinations[0].Store)));
        return list;
    }

    public static ISource Source(PipelineSpec spec, ResilientHttp http, TimeProvider time) => spec.Source switch
    {
        KnmiSourceSpec k => new KnmiSource(k, http, time),
        NoaaSourceSpec n => new Sources.Noaa.NoaaSource(n, http, time),
        _ => throw new ConfigException($"{spec.FilePath}: source type '{spec.Source.Type}' is not available in this build"),
    };

    /// <summary>
    /// <c>base_url: simulator</c> starts the source's simulator in-process (accepting the pipeline's key) and points
    /// the pipeline at it: the offline quickstart needs no second process.
    /// </summary>
    public static async Task<(PipelineSpec Spec, IAsyncDisposable? Simulator)> WithBuiltinSimulatorAsync(PipelineSpec spec, CancellationToken cancellationToken)
    {
        switch (spec.Source)
        {
            case KnmiSourceSpec k when k.BaseUrl == PipelineLoader.BuiltinSimulator:
            {
                var host = await Simulators.SimulatorHost.StartKnmiAsync(new Simulators.SimulatorOptions { ApiKey = k.ApiKey, Latency = TimeSpan.FromMilliseconds(20) }, cancellationToken).ConfigureAwait(false);
                return (spec with { Source = k with { BaseUrl = host.BaseUrl.ToString().TrimEnd('/') } }, host);
            }
            case NoaaSourceSpec n when n.BaseUrl == PipelineLoader.BuiltinSimulator:
            {
                var host = await Simulators.SimulatorHost.StartNoaaAsync(new Simulators.SimulatorOptions { ApiKey = n.Token, Latency = TimeSpan.FromMilliseconds(20) }, cancellationToken).ConfigureAwait(false);
                return (spec with { Source = n with { BaseUrl = host.BaseUrl.ToString().TrimEnd('/') } }, host);
            }
            default:
                return (spec, null);
        }
    }

    public static void RegisterSecrets(PipelineSpec spec)
    {
        switch (spec.Source)
        {
            case KnmiSourceSpec k: Redact.Register(k.ApiKey); break;
            case NoaaSourceSpec n: Redact.Register(n.Token); break;
        }
        foreach (var d in spec.Destinations)
        {
            Redact.Register(d.Store.SecretKey);
            Redact.Register(d.Store.AccessKey);
        }
    }

    /// <summary>Quota scope: source type + a fingerprint of the key (never the key itself).</summary>
    public static string QuotaScope(PipelineSpec spec)
    {
        var secret = spec.Source switch
        {
            KnmiSourceSpec k => k.ApiKey,
            NoaaSourceSpec n => n.Token,
            _ => "",
        };
        return $"{spec.Source.Type}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)))[..12]}";
    }

    public static HttpClient HttpClient(HttpSpec http) => new(new SocketsHttpHandler
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
