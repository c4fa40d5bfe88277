namespace Ingot.Simulators;

/// <summary>Request log that keeps arrival order although requests complete out of order.</summary>
internal sealed class RequestLog
{
    private readonly Lock _gate = new();
    private readonly List<SimRequest?> _entries = [];

    public int Reserve()
    {
        lock (_gate)
        {
            _entries.Add(null);
            return _entries.Count - 1;
        }
    }

    public void Complete(int slot, SimRequest request)
    {
        lock (_gate)
        {
            _entries[slot] = request;
        }
    }

    /// <summary>Completed requests in arrival order (requests still in flight are left out).</summary>
    public IReadOnlyList<SimRequest> Snapshot()
    {
        lock (_gate)
        {
            var result = new List<SimRequest>(_entries.Count);
            foreach (var entry in _entries)
            {
                if (entry is not null)
                {
                    result.Add(entry);
                }
            }

            return result;
        }
    }
}
