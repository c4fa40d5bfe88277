namespace Ingot.Http;

/// <summary>
/// At most <c>permits</c> request starts in any rolling <c>window</c>: a sliding log, not a token bucket,
/// because APIs like NOAA count arrivals in any one-second span and a refilled bucket lets a burst through.
/// </summary>
/// <remarks>
/// The server counts arrivals, not our starts: a request can arrive well after we started it (a cold
/// connection, a TLS handshake, a busy machine). When a response comes back, its slot is moved to the latest
/// time the request can have arrived: the response time less the fastest round trip seen so far — and, until
/// enough round trips were seen to know that floor, the response time itself (the cold start is the risky part).
/// </remarks>
public sealed class RollingWindowLimiter
{
    private readonly int _permits;
    private readonly TimeSpan _window;
    private readonly TimeSpan _margin;
    private readonly TimeProvider _time;
    private readonly List<Slot> _slots = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _lock = new();
    private TimeSpan _fastest = TimeSpan.MaxValue;
    private int _samples;

    public RollingWindowLimiter(double perSecond, TimeProvider time)
    {
        _time = time;
        // Count per window, exact for the rates people write: 30/s → 30 per 1 s, 100/m → 100 per 60 s, 0.5/s → 1 per 2 s.
        (_permits, _window) = perSecond switch
        {
            >= 1 when Math.Abs(perSecond - Math.Round(perSecond)) < 1e-9 => ((int)Math.Round(perSecond), TimeSpan.FromSeconds(1)),
            < 1 when Math.Abs(1 / perSecond - Math.Round(1 / perSecond)) < 1e-9 => (1, TimeSpan.FromSeconds(Math.Round(1 / perSecond))),
            _ when Math.Abs(perSecond * 60 - Math.Round(perSecond * 60)) < 1e-6 && perSecond * 60 >= 1 => ((int)Math.Round(perSecond * 60), TimeSpan.FromMinutes(1)),
            _ when Math.Abs(perSecond * 3600 - Math.Round(perSecond * 3600)) < 1e-6 && perSecond * 3600 >= 1 => ((int)Math.Round(perSecond * 3600), TimeSpan.FromHours(1)),
            >= 1 => ((int)Math.Floor(perSecond), TimeSpan.FromSeconds(1)),
            _ => (1, TimeSpan.FromSeconds(1 / perSecond)),
        };
        // A small margin for clock granularity and scheduling between our stamp and the socket write.
        _margin = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(20).Ticks, _window.Ticks / 50));
    }

    /// <summary>One admitted start; report its response with <see cref="Complete"/>.</summary>
    public sealed class Slot
    {
        internal DateTimeOffset Start;
        internal DateTimeOffset Stamped;
    }

    public async Task<Slot> WaitAsync(CancellationToken cancellationToken)
    {
        // One waiter at a time keeps starts in FIFO order and the log exact.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                TimeSpan wait;
                lock (_lock)
                {
                    var now = _time.GetUtcNow();
                    _slots.RemoveAll(s => now - s.Start >= _window + _margin);
                    if (_slots.Count < _permits)
                    {
                        var slot = new Slot { Start = now, Stamped = now };
                        _slots.Add(slot);
                        return slot;
                    }
                    wait = _slots.Min(s => s.Start) + _window + _margin - now;
                }
                // Whole milliseconds, at least one: the system timer drops a sub-millisecond due time to zero, and a
                // waiter woken before the oldest start leaves the window would spin without the clock moving.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(wait.TotalMilliseconds))), _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The response to a slot's request arrived: the request reached the server no later than this, less the fastest round trip.</summary>
    public void Complete(Slot slot)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var roundTrip = now - slot.Stamped;
            if (roundTrip < _fastest) _fastest = roundTrip;
            _samples++;
            var latestArrival = _samples > 2 * _permits ? now - _fastest : now;
            if (latestArrival > slot.Start) slot.Start = latestArrival;
        }
    }
}
