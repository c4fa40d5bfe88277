using Ingot.Destinations;
using Ingot.State;

namespace Ingot.Sources;

/// <summary>
/// A time window of a station group, as the time-windowed planners (KNMI, NOAA) lay them out; the source turns each
/// into a <see cref="WorkUnit"/> with <see cref="TimeWindowBounds"/>.
/// </summary>
public sealed record Chunk(
    string Key,
    string Stream,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset GridTo,
    IReadOnlyList<string> Stations,
    long DataPoints,
    int EstimatedRequests)
{
    public TimeWindowBounds Bounds => new(From, To, GridTo, Stations);
}

/// <summary>What planning sees: the run's range and options, the stored checkpoints and units, and the clock.</summary>
public sealed record PlanRequest(
    DateTimeOffset? From,
    DateTimeOffset? To,
    DateTimeOffset Now,
    bool FullRefresh,
    IReadOnlySet<string>? Streams,
    IReadOnlyDictionary<string, Watermark> Checkpoints,
    IReadOnlyDictionary<string, ChunkState> Known)
{
    /// <summary><c>--refresh</c>: done units are fetched again and replace themselves (a cursor stream plans its landed pages again).</summary>
    public bool Refresh { get; init; }

    public bool Wants(string stream) => Streams is null || Streams.Contains(stream);
}

/// <summary>A stream as one run extracts it: its load type and lower bound (<c>ingot plan</c>, the run summary).</summary>
public sealed record StreamPlan(string Stream, string Source, LoadType LoadType, string? LowerBound);

/// <summary>A source's plan: the units of every stream it extracts this run, and a human summary of the scope.</summary>
public sealed record SourcePlan(IReadOnlyList<WorkUnit> Units, IReadOnlyList<StreamPlan> Streams, IReadOnlyDictionary<string, object> Scope);

/// <summary>What a fetch may read and record about its unit beyond the unit itself.</summary>
public interface IUnitContext
{
    /// <summary>The unit's stored state from earlier runs (a recorded split, attempts), or null.</summary>
    ChunkState? Previous { get; }

    /// <summary>Persists how the source split the unit, so a resumed run asks exactly the same parts.</summary>
    Task RecordSplitAsync(string split, CancellationToken cancellationToken);
}

/// <summary>
/// A data source: plans units of work from the run's range and the stored state, and fetches one unit as a stream of
/// pages (memory is bounded by a page, not by a unit). Connectors throw; the engine retries and accounts.
/// </summary>
public interface ISource : IAsyncDisposable
{
    /// <summary>The source's name in the pipeline (<c>sources[].name</c>, default its type).</summary>
    string Name { get; }

    /// <summary>The source type, as in the <c>_source_system</c> column: <c>knmi-edr</c>, <c>files</c>, …</summary>
    string SourceSystem { get; }

    /// <summary>The streams this source can extract, in configuration order.</summary>
    IReadOnlyList<string> Streams { get; }

    Task<SourcePlan> PlanAsync(PlanRequest request, CancellationToken cancellationToken);

    /// <summary>The unit's pages in order, each yielded as soon as it is read.</summary>
    IAsyncEnumerable<FetchedPage> FetchAsync(WorkUnit unit, IUnitContext context, CancellationToken cancellationToken);

    /// <summary>
    /// The top-level fields the stream's records carry, when the source knows them before fetching (KNMI: station, time,
    /// lat, lon and the parameters; a table: its columns — a source may ask its server, but makes no data request); null
    /// when only the data can tell (files), and then the engine checks the stream's first records before they land.
    /// Partition columns and event-time fields the configuration names are checked against it before any request.
    /// </summary>
    ValueTask<IReadOnlySet<string>?> FieldsAsync(string stream, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlySet<string>?>(null);

    /// <summary>
    /// <c>ingot tune</c>'s workload: <paramref name="count"/> small, valid units that each cost one request (KNMI, NOAA: one
    /// station × one month, or less where the source's budget needs it), so every level of the sweep runs the same
    /// requests whatever the pipeline's chunking; null when the source has no such unit, and tune takes the plan's first units.
    /// </summary>
    IReadOnlyList<WorkUnit>? TuneUnits(int count, DateTimeOffset now) => null;
}
