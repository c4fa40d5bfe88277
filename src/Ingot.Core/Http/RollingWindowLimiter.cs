namespace Ingot.Http;

/// <summary>
/// At most <c>permits</c> request starts in any rolling <c>window</c>: a sliding log, not a token bucket,
/// because APIs like NOAA count starts in any one-second span and a refilled bucket lets a burst through.
/// </summary>
public sealed class RollingWindowLimiter
{
    private readonly int _permits;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly Queue<DateTimeOffset> _starts = new();
    private readonly SemaphoreSlim _gate = new(1, 1);

    public RollingWindowLimiter(double perSecond, TimeProvider time)
    {
        _time = time;
        if (perSecond >= 1)
        {
            _permits = (int)Math.Floor(perSecond);
            _window = TimeSpan.FromSeconds(1);
        }
        else
        {
            _permits = 1;
            _window = TimeSpan.FromSeconds(1 / perSecond);
        }
    }

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        // One waiter at a time keeps starts in FIFO order and the log exact.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var now = _time.GetUtcNow();
                while (_starts.Count > 0 && now - _starts.Peek() >= _window) _starts.Dequeue();
                if (_starts.Count < _permits)
                {
                    _starts.Enqueue(now);
                    return;
                }
                // A small margin: the server's clock and ours disagree by the network latency.
                var wait = _starts.Peek() + _window - now + TimeSpan.FromMilliseconds(2);
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
