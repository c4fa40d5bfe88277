using Ingot.Records;
using Ingot.Sources;

namespace Ingot.Destinations;

/// <summary>A run as the destination tests describe it: the run, and the source system and load type of its units.</summary>
public sealed record TestRunContext(Guid RunId, string Pipeline, string SourceSystem, DateTimeOffset IngestedAt, LoadType LoadType)
{
    public RunContext Run => new(RunId, Pipeline, IngestedAt);
}

/// <summary>A unit with its pages, landed in one go by <see cref="Landing.LandAsync"/> (the engine streams them; the tests need not).</summary>
public sealed record ChunkData(string ChunkKey, string Stream, DateTimeOffset From, IReadOnlyList<FetchedPage> Pages)
{
    public IEnumerable<Ingot.Records.Record> Records => Pages.SelectMany(p => p.Records);

    public IReadOnlyList<QuarantinedRecord> Quarantine => Pages.SelectMany(p => p.Quarantine).ToList();

    public WorkUnit Unit(TestRunContext run) => new(ChunkKey, Stream, run.SourceSystem, run.SourceSystem,
        new TimeWindowBounds(From, From.AddDays(1), From.AddDays(1), []), UnitIdentity.Of(("test", "1")), run.LoadType);
}

public static class Landing
{
    /// <summary>Begin, write every page, complete: the files the unit made visible, without the destination's own unit record.</summary>
    public static async Task<IReadOnlyList<LandedFile>> LandAsync(this IDestination destination, TestRunContext run, ChunkData chunk, IFileJournal journal, CancellationToken cancellationToken)
    {
        await using var writer = await destination.BeginAsync(run.Run, chunk.Unit(run), journal, cancellationToken);
        foreach (var page in chunk.Pages) await writer.WriteAsync(page, cancellationToken);
        var receipt = await writer.CompleteAsync(new UnitTotals(chunk.Records.LongCount(), chunk.Quarantine.Count, chunk.Pages.Count, chunk.Pages.Sum(p => (long)p.Body.Length)), cancellationToken);
        return receipt.Files.Where(f => !f.Path.Contains("/_units/", StringComparison.Ordinal)).ToList();
    }

    /// <summary>The processor applied page by page, as the engine does.</summary>
    public static ChunkData Apply(this RecordProcessor processor, ChunkData chunk) =>
        chunk with { Pages = chunk.Pages.Select(p => processor.Apply(chunk.ChunkKey, p)).ToList() };
}
