using Ingot.Config;

namespace Ingot.Tests.Core.Config;

public sealed class ValuesTests
{
    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("10s", 10_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData(" 10 s ", 10_000)]
    public void TryDuration_ValidText_ReturnsDuration(string text, double milliseconds)
    {
        // When
        var ok = Values.TryDuration(text, out var value);

        // Then
        ok.ShouldBeTrue();
        value.ShouldBe(TimeSpan.FromMilliseconds(milliseconds));
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("10x")]
    [InlineData("ten s")]
    [InlineData("-1s")]
    [InlineData("1s2s")]
    public void TryDuration_InvalidText_ReturnsFalse(string text)
    {
        // When
        var ok = Values.TryDuration(text, out _);

        // Then
        ok.ShouldBeFalse();
    }

    [Fact]
    public void TryDurationRange_ValidRange_ReturnsBothEnds()
    {
        // When
        var ok = Values.TryDurationRange("100ms..2s", out var min, out var max);

        // Then
        ok.ShouldBeTrue();
        min.ShouldBe(TimeSpan.FromMilliseconds(100));
        max.ShouldBe(TimeSpan.FromSeconds(2));
    }

    [Theory]
    [InlineData("2s..1s")]
    [InlineData("0s..1s")]
    [InlineData("1s-2s")]
    [InlineData("1s..")]
    [InlineData("1s..2s..3s")]
    public void TryDurationRange_InvalidRange_ReturnsFalse(string text)
    {
        // When
        var ok = Values.TryDurationRange(text, out _, out _);

        // Then
        ok.ShouldBeFalse();
    }

    [Theory]
    [InlineData("30/s", 30)]
    [InlineData("100/m", 100 / 60.0)]
    [InlineData("60/min", 1)]
    [InlineData("3600/h", 1)]
    [InlineData("2.5/s", 2.5)]
    [InlineData(" 5 / second ", 5)]
    public void TryRate_ValidRate_ReturnsPerSecond(string text, double perSecond)
    {
        // When
        var ok = Values.TryRate(text, out var value);

        // Then
        ok.ShouldBeTrue();
        value.ShouldBe(perSecond, 1e-9);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("0/s")]
    [InlineData("30/d")]
    [InlineData("fast")]
    public void TryRate_InvalidRate_ReturnsFalse(string text)
    {
        // When
        var ok = Values.TryRate(text, out _);

        // Then
        ok.ShouldBeFalse();
    }

    [Theory]
    [InlineData("P1D", 0, 24 * 60)]
    [InlineData("PT1H", 0, 60)]
    [InlineData("PT10M", 0, 10)]
    [InlineData("P1W", 0, 7 * 24 * 60)]
    [InlineData("P1DT12H", 0, 36 * 60)]
    [InlineData("P1M", 1, 0)]
    [InlineData("P1Y", 12, 0)]
    [InlineData("P1Y2M", 14, 0)]
    public void TryPeriod_ValidPeriod_SplitsMonthsAndDuration(string text, int months, int minutes)
    {
        // When
        var ok = Values.TryPeriod(text, out var period);

        // Then
        ok.ShouldBeTrue();
        period.Months.ShouldBe(months);
        period.Duration.ShouldBe(TimeSpan.FromMinutes(minutes));
        period.Text.ShouldBe(text);
        period.ToString().ShouldBe(text);
    }

    [Theory]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("P0D")]
    [InlineData("1D")]
    [InlineData("PT1D")]
    [InlineData("daily")]
    public void TryPeriod_InvalidPeriod_ReturnsFalse(string text)
    {
        // When
        var ok = Values.TryPeriod(text, out _);

        // Then
        ok.ShouldBeFalse();
    }

    [Fact]
    public void IsoPeriodAddTo_Month_AddsCalendarMonth()
    {
        // Given
        Values.TryPeriod("P1M", out var period).ShouldBeTrue();

        // When
        var end = period.AddTo(new DateTimeOffset(2024, 2, 1, 0, 0, 0, TimeSpan.Zero));

        // Then
        end.ShouldBe(new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero));
    }

    [Theory]
    [InlineData("2000-01-01T00:00:00Z", 2000, 1, 1, 0)]
    [InlineData("2000-01-01", 2000, 1, 1, 0)]
    [InlineData("2000-01-01T12:00:00", 2000, 1, 1, 12)]
    [InlineData("2000-01-01T12:00:00+02:00", 2000, 1, 1, 10)]
    [InlineData("2000-01-01T01:00:00-02:00", 2000, 1, 1, 3)]
    public void TryInstant_ValidText_ReturnsUtcInstant(string text, int year, int month, int day, int hour)
    {
        // When
        var ok = Values.TryInstant(text, out var value);

        // Then
        ok.ShouldBeTrue();
        value.Offset.ShouldBe(TimeSpan.Zero);
        value.ShouldBe(new DateTimeOffset(year, month, day, hour, 0, 0, TimeSpan.Zero));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2000-13-01")]
    [InlineData("")]
    public void TryInstant_InvalidText_ReturnsFalse(string text)
    {
        // When
        var ok = Values.TryInstant(text, out _);

        // Then
        ok.ShouldBeFalse();
    }

    [Theory]
    [InlineData(250, "250ms")]
    [InlineData(1_500, "1.5s")]
    [InlineData(150_000, "2.5m")]
    public void FormatDuration_Duration_PicksReadableUnit(double milliseconds, string expected)
    {
        // When
        var text = Values.FormatDuration(TimeSpan.FromMilliseconds(milliseconds));

        // Then
        text.ShouldBe(expected);
    }
}
