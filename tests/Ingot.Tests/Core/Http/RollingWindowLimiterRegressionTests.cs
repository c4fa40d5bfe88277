using Ingot.Http;

namespace Ingot.Tests.Core.Http;

/// <summary>Failing test that demonstrates a limiter shortfall (see the report); kept apart so the lead can decide.</summary>
public sealed class RollingWindowLimiterRegressionTests
{
    [Fact]
    public async Task WaitAsync_HundredPerMinute_AllowsAHundredStartsInAMinute()
    {
        // Given: rate_limit 100/m parses to 1.67/s
        var clock = new FakeTimeProvider();
        var limiter = new RollingWindowLimiter(100 / 60.0, clock);
        var t0 = clock.GetUtcNow();

        // When: 100 sequential starts, moving the clock to each pending wait
        for (var i = 0; i < 100; i++)
        {
            var wait = limiter.WaitAsync(TestContext.Current.CancellationToken);
            while (!wait.IsCompleted)
            {
                if (!clock.AdvanceToNextTimer()) await Task.Delay(1, TestContext.Current.CancellationToken);
            }
            await wait;
        }

        // Then
        (clock.GetUtcNow() - t0).ShouldBeLessThan(TimeSpan.FromSeconds(60));
    }
}
