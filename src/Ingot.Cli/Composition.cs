using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Engine;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Cli;

/// <summary>The composition root: the connectors this build knows, the state store, and the built-in simulators.</summary>
internal static class Composition
{
    /// <summary>Core's connectors, Parquet (DuckDB), Iceberg and the S3 store: the one place a connector assembly is registered.</summary>
    public static ConnectorRegistry Registry { get; } = ConnectorRegistry.Core
        .With(new DuckDb.Parquet.ParquetConnector())
        .With(new Postgres.Destination.PostgresDestinationConnector())
        .With(new Postgres.Source.PostgresSourceConnector())
        .With(new Iceberg.IcebergConnector())
        .With(new Ingot.S3.S3BlobStoreOpener());

    public static IStateStore OpenState(IngotSettings settings, TimeProvider time)
    {
        if (settings.StatePath.StartsWith("postgres", StringComparison.OrdinalIgnoreCase) || settings.StatePath.Contains("Host=", StringComparison.OrdinalIgnoreCase))
            throw new ConfigException("INGOT_STATE: a PostgreSQL state store is not available in this build yet; unset INGOT_STATE to use the embedded SQLite store");
        return SqliteStateStore.Open(settings.StatePath, time);
    }

    public static IReadOnlyList<IDestination> Destinations(PipelineSpec spec) => PipelineRunner.CreateDestinations(spec, Registry, TimeProvider.System);

    /// <summary>
    /// <c>base_url: simulator</c> starts the source's simulator in-process (accepting the pipeline's key) and points
    /// the pipeline at it: the offline quickstart needs no second process.
    /// </summary>
    public static async Task<(PipelineSpec Spec, IAsyncDisposable? Simulator)> WithBuiltinSimulatorAsync(PipelineSpec spec, CancellationToken cancellationToken)
    {
        var hosts = new List<IAsyncDisposable>();
        var sources = new List<SourceSpec>();
        foreach (var source in spec.Sources)
        {
            switch (source)
            {
                case KnmiSourceSpec k when k.BaseUrl == PipelineLoader.BuiltinSimulator:
                {
                    var host = await Simulators.SimulatorHost.StartKnmiAsync(new Simulators.SimulatorOptions { ApiKey = k.ApiKey, Latency = TimeSpan.FromMilliseconds(20) }, cancellationToken).ConfigureAwait(false);
                    hosts.Add(host);
                    sources.Add(k with { BaseUrl = host.BaseUrl.ToString().TrimEnd('/') });
                    break;
                }
                case NoaaSourceSpec n when n.BaseUrl == PipelineLoader.BuiltinSimulator:
                {
                    var host = await Simulators.SimulatorHost.StartNoaaAsync(new Simulators.SimulatorOptions { ApiKey = n.Token, Latency = TimeSpan.FromMilliseconds(20) }, cancellationToken).ConfigureAwait(false);
                    hosts.Add(host);
                    sources.Add(n with { BaseUrl = host.BaseUrl.ToString().TrimEnd('/') });
                    break;
                }
                case Sources.Rest.RestSourceSpec r when r.BaseUrl == PipelineLoader.BuiltinSimulator:
                {
                    // The shop simulator, accepting the source's key or token for both of its APIs.
                    var host = await Simulators.SimulatorHost.StartShopAsync(new Simulators.SimulatorOptions { ApiKey = r.Auth.Secrets.FirstOrDefault() ?? "sim-key", Latency = TimeSpan.FromMilliseconds(20) },
                        null, cancellationToken).ConfigureAwait(false);
                    hosts.Add(host);
                    sources.Add(r with { BaseUrl = host.BaseUrl.ToString().TrimEnd('/') });
                    break;
                }
                default:
                    sources.Add(source);
                    break;
            }
        }
        return hosts.Count == 0 ? (spec, null) : (spec with { Sources = sources }, new Hosts(hosts));
    }

    private sealed class Hosts(List<IAsyncDisposable> hosts) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (var h in hosts) await h.DisposeAsync().ConfigureAwait(false);
        }
    }
}
