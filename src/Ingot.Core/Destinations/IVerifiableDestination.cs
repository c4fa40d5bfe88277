namespace Ingot.Destinations;

/// <summary>Something <c>ingot verify</c> found wrong in a destination: a missing or altered file, a unit the state and the destination disagree on.</summary>
public sealed record VerifyProblem(string Kind, string Path, string Detail);

/// <summary>What a destination checked on its own terms, and what it found.</summary>
public sealed record VerifyReport(int FilesChecked, IReadOnlyList<VerifyProblem> Problems);

/// <summary>A unit the state store holds as done, as <c>verify</c> hands it to a destination.</summary>
public sealed record DoneUnit(string Key, string Stream, long Records);

/// <summary>
/// A destination that verifies what it holds beyond re-hashing the state's files: a table format checks every live file
/// its current snapshot references and the state's units against the table's own record of them.
/// </summary>
public interface IVerifiableDestination
{
    Task<VerifyReport> VerifyAsync(string pipeline, IReadOnlyList<DoneUnit> done, CancellationToken cancellationToken);
}
