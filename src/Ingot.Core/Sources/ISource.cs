using Ingot.Destinations;
using Ingot.State;

namespace Ingot.Sources;

/// <summary>
/// One unit of work: deterministic key (same plan, same keys), a stream, a time window <c>[From, To)</c> and,
/// for station-based APIs, a station group. <see cref="GridTo"/> is the window's end on the plan's grid;
/// <see cref="To"/> is smaller only for a last window cut short by the range's end.
/// </summary>
public sealed record Chunk(
    string Key,
    string Stream,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset GridTo,
    IReadOnlyList<string> Stations,
    long DataPoints,
    int EstimatedRequests);

/// <summary>Lets a source persist how it split a chunk, so a resumed run asks exactly the same parts.</summary>
public interface IChunkProgress
{
    Task RecordSplitAsync(string split, CancellationToken cancellationToken);
}

/// <summary>A data source: plans chunks and fetches one chunk into pages of raw bodies and records. Connectors throw; the engine retries and accounts.</summary>
public interface ISource : IDisposable
{
    string SourceSystem { get; }

    /// <summary>The configured range, before command-line overrides.</summary>
    (DateTimeOffset Start, DateTimeOffset? End) ConfiguredRange { get; }

    IReadOnlyList<Chunk> Plan(DateTimeOffset from, DateTimeOffset to);

    /// <summary>A human summary of the plan scope for the run-start event.</summary>
    IReadOnlyDictionary<string, object> Scope(IReadOnlyList<Chunk> chunks);

    Task<ChunkData> FetchAsync(Chunk chunk, ChunkState? previous, IChunkProgress progress, CancellationToken cancellationToken);
}
