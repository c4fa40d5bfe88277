using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.Connectors;

/// <summary>What a source connector may use to build its source: the pipeline, the clock, the stores, and an HTTP client with the pipeline's resilience.</summary>
public sealed record SourceServices(PipelineSpec Pipeline, TimeProvider Time, BlobStores Stores, Func<SourceSpec, ResilientHttp> Http);

/// <summary>What a destination connector may use to build its destination.</summary>
public sealed record DestinationServices(PipelineSpec Pipeline, TimeProvider Time, BlobStores Stores);

/// <summary>A source type: reads and validates its own YAML section (errors with <c>file:line:col</c>) and creates itself.</summary>
public interface ISourceConnector
{
    string Type { get; }

    /// <summary>Reads the section (its <c>type</c> and <c>name</c> keys are already read) and calls <see cref="ConfigSection.RejectUnknown"/>.</summary>
    SourceSpec Read(ConfigSection section);

    ISource Create(SourceSpec spec, SourceServices services);
}

/// <summary>A destination type: reads and validates its own YAML section and creates itself.</summary>
public interface IDestinationConnector
{
    string Type { get; }

    /// <summary>Reads the section (its <c>type</c> key is already read) and calls <see cref="ConfigSection.RejectUnknown"/>.</summary>
    DestinationSpec Read(ConfigSection section);

    IDestination Create(DestinationSpec spec, DestinationServices services);
}

/// <summary>
/// The connectors and blob stores a build of Ingot knows. Adding a connector touches its own folder and one
/// registration here or in the composition root (connectors in other assemblies: <see cref="With(ISourceConnector)"/>).
/// Immutable: <c>With</c> returns a new registry.
/// </summary>
public sealed class ConnectorRegistry
{
    private readonly Dictionary<string, ISourceConnector> _sources;
    private readonly Dictionary<string, IDestinationConnector> _destinations;
    private readonly List<IBlobStoreOpener> _stores;

    private ConnectorRegistry(Dictionary<string, ISourceConnector> sources, Dictionary<string, IDestinationConnector> destinations, List<IBlobStoreOpener> stores)
    {
        _sources = sources;
        _destinations = destinations;
        _stores = stores;
        Stores = new BlobStores(stores);
    }

    public static ConnectorRegistry Empty { get; } = new(new(StringComparer.Ordinal), new(StringComparer.Ordinal), []);

    /// <summary>The connectors of Ingot.Core: KNMI EDR, NOAA CDO, files and REST sources; the raw archive.</summary>
    public static ConnectorRegistry Core { get; } = Empty
        .With(new Sources.Knmi.KnmiConnector())
        .With(new Sources.Noaa.NoaaConnector())
        .With(new Sources.Files.FilesConnector())
        .With(new Sources.Rest.RestConnector())
        .With(new RawConnector());

    public IReadOnlyCollection<string> SourceTypes => _sources.Keys;

    public IReadOnlyCollection<string> DestinationTypes => _destinations.Keys;

    public BlobStores Stores { get; }

    public ConnectorRegistry With(ISourceConnector connector) =>
        new(new(_sources, StringComparer.Ordinal) { [connector.Type] = connector }, _destinations, _stores);

    public ConnectorRegistry With(IDestinationConnector connector) =>
        new(_sources, new(_destinations, StringComparer.Ordinal) { [connector.Type] = connector }, _stores);

    public ConnectorRegistry With(IBlobStoreOpener opener) => new(_sources, _destinations, [.. _stores, opener]);

    public ISourceConnector? Source(string type) => _sources.GetValueOrDefault(type);

    public IDestinationConnector? Destination(string type) => _destinations.GetValueOrDefault(type);

    public ISourceConnector SourceFor(SourceSpec spec) =>
        Source(spec.Type) ?? throw new ConfigException($"source type '{spec.Type}' is not available in this build (known: {string.Join(", ", SourceTypes.Order())})");

    public IDestinationConnector DestinationFor(DestinationSpec spec) =>
        Destination(spec.Type) ?? throw new ConfigException($"destination type '{spec.Type}' is not available in this build (known: {string.Join(", ", DestinationTypes.Order())})");
}

/// <summary><c>type: raw</c>.</summary>
internal sealed class RawConnector : IDestinationConnector
{
    public string Type => "raw";

    public DestinationSpec Read(ConfigSection section)
    {
        var path = section.Context.LocalPath(section.Required("path"));
        var store = StoreSettings.Read(section);
        section.RejectUnknown();
        return new RawDestinationSpec(path, store);
    }

    public IDestination Create(DestinationSpec spec, DestinationServices services)
    {
        var raw = (RawDestinationSpec)spec;
        return new RawDestination(services.Stores.Open(raw.Path, raw.Store), spec.Name);
    }
}
