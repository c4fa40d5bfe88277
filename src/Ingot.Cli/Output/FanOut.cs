using Ingot.Engine;
using Ingot.Sources;

namespace Ingot.Cli.Output;

/// <summary>Sends every event to several observers (the log and the progress bar).</summary>
internal sealed class FanOut(params IRunObserver[] observers) : IRunObserver
{
    public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped) { foreach (var o in observers) o.RunStarted(run, scope, chunksTotal, chunksSkipped); }
    public void ChunkLanded(RunInfo run, WorkUnit chunk, ChunkOutcome outcome) { foreach (var o in observers) o.ChunkLanded(run, chunk, outcome); }
    public void ChunkFailed(RunInfo run, WorkUnit chunk, string error, int attempts) { foreach (var o in observers) o.ChunkFailed(run, chunk, error, attempts); }
    public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { foreach (var o in observers) o.Retry(run, chunkKey, attempt, status, reason, wait); }
    public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) { foreach (var o in observers) o.CircuitOpen(run, pause, reason); }
    public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null) { foreach (var o in observers) o.Message(run, level, message, fields); }
    public void RunComplete(RunInfo run, RunSummary summary) { foreach (var o in observers) o.RunComplete(run, summary); }
}
