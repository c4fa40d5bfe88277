using Ingot.Sources;
using Ingot.State;

namespace Ingot.Engine;

/// <summary>
/// The checkpoints of a run's cursor streams (units with <see cref="CursorBounds"/>): each stream's units in plan order,
/// which of them are committed, and how far their done prefix carries the checkpoint. A checkpoint moves only in the
/// state transaction of the commit that extends the done prefix (invariant 4), and never past a unit that is not
/// committed — so a failed page holds the stream at the last page before it, and the next run asks from there.
/// <para>
/// Not thread-safe: the runner calls <see cref="Moves"/> and <see cref="Committed"/> under its commit gate, so the
/// prefix a move is computed from is exactly what is committed when the move commits.
/// </para>
/// </summary>
internal sealed class CursorCheckpoints
{
    private readonly Dictionary<string, StreamProgress> _streams = new(StringComparer.Ordinal);

    /// <param name="units">The run's plan, in order.</param>
    /// <param name="alreadyDone">Units done by earlier runs (skipped now): they count as committed.</param>
    public CursorCheckpoints(IEnumerable<WorkUnit> units, Func<WorkUnit, bool> alreadyDone)
    {
        foreach (var stream in units.GroupBy(u => u.Stream, StringComparer.Ordinal))
        {
            if (!stream.All(u => u.Bounds is CursorBounds)) continue;
            var progress = new StreamProgress();
            foreach (var u in stream)
            {
                progress.Index[u.Key] = progress.Units.Count;
                progress.Units.Add(new Slot(u.Key) { Done = alreadyDone(u), Value = alreadyDone(u) ? u.Checkpoint : null, Memo = alreadyDone(u) ? u.CheckpointMemo : null });
            }
            _streams[stream.Key] = progress;
        }
    }

    public bool Tracks(string stream) => _streams.ContainsKey(stream);

    /// <summary>
    /// The checkpoint moves a batch about to commit carries, keyed by the unit whose commit carries each (the batch's
    /// last unit of the stream); the record count is what this run landed for the stream, the batch included.
    /// </summary>
    public IReadOnlyDictionary<string, CheckpointMove> Moves(IEnumerable<CursorLanding> batch)
    {
        var moves = new Dictionary<string, CheckpointMove>(StringComparer.Ordinal);
        foreach (var stream in batch.GroupBy(b => b.Stream, StringComparer.Ordinal))
        {
            if (!_streams.TryGetValue(stream.Key, out var p)) continue;
            var landing = stream.ToDictionary(b => b.Key, StringComparer.Ordinal);
            string? value = null, memo = null;
            var i = 0;
            for (; i < p.Units.Count; i++)
            {
                var slot = p.Units[i];
                if (landing.TryGetValue(slot.Key, out var l))
                {
                    if (l.Value is not null) (value, memo) = (l.Value, l.Memo);
                }
                else if (!slot.Done) break;
                else if (slot.Value is not null) (value, memo) = (slot.Value, slot.Memo);
            }
            if (value is null || (value == p.Moved && memo == p.MovedMemo)) continue;
            var carrier = stream.MaxBy(b => p.Index[b.Key])!;
            moves[carrier.Key] = new CheckpointMove(stream.Key, value, p.Records + stream.Sum(b => b.Records)) { Memo = memo };
        }
        return moves;
    }

    /// <summary>The batch committed (with <paramref name="moves"/>): its units count as done from now on.</summary>
    public void Committed(IEnumerable<CursorLanding> batch, IReadOnlyDictionary<string, CheckpointMove> moves)
    {
        foreach (var b in batch)
        {
            if (!_streams.TryGetValue(b.Stream, out var p) || !p.Index.TryGetValue(b.Key, out var i)) continue;
            var slot = p.Units[i];
            p.Records += b.Records;
            slot.Done = true;
            slot.Value = b.Value;
            slot.Memo = b.Memo;
        }
        foreach (var move in moves.Values)
        {
            var p = _streams[move.Stream];
            p.Moved = move.Value;
            p.MovedMemo = move.Memo;
        }
    }

    private sealed class StreamProgress
    {
        public List<Slot> Units { get; } = [];
        public Dictionary<string, int> Index { get; } = new(StringComparer.Ordinal);
        public string? Moved { get; set; }
        public string? MovedMemo { get; set; }
        public long Records { get; set; }
    }

    private sealed class Slot(string key)
    {
        public string Key { get; } = key;
        public bool Done { get; set; }
        public string? Value { get; set; }
        public string? Memo { get; set; }
    }
}

/// <summary>A unit about to commit: its stream, the checkpoint it carries the stream to (planned or delivered) and its records.</summary>
internal sealed record CursorLanding(string Key, string Stream, string? Value, string? Memo, long Records);
