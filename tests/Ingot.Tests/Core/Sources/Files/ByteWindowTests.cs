using Ingot.Sources.Files;

namespace Ingot.Tests.Core.Sources.Files;

public sealed class ByteWindowTests
{
    [Fact]
    public async Task FillAsync_RecordLargerThanTheMaximum_ThrowsWithTheLine()
    {
        // Given: a window that may not grow past its first 64 KiB, two lines in
        var data = new byte[200 * 1024];
        data[0] = (byte)'\n';
        data[1] = (byte)'\n';
        var window = new ByteWindow(new MemoryStream(data), "big.json", maxBytes: 64 * 1024);
        await window.FillAsync(TestContext.Current.CancellationToken);
        window.Advance(2);
        await window.FillAsync(TestContext.Current.CancellationToken);

        // When: nothing more is consumed, so the window is full of one record
        var fill = async () => await window.FillAsync(TestContext.Current.CancellationToken);

        // Then
        var error = await Should.ThrowAsync<FileParseException>(fill);
        error.Message.ShouldBe("big.json:3: a record is larger than 64 KiB");
    }

    [Fact]
    public async Task FillAsync_AfterAdvance_KeepsUnconsumedBytesAndLines()
    {
        // Given
        var data = "ab\ncd\nef"u8.ToArray();
        var window = new ByteWindow(new MemoryStream(data), "x", maxBytes: 1024);
        await window.FillAsync(TestContext.Current.CancellationToken);

        // When
        window.Advance(4);
        await window.FillAsync(TestContext.Current.CancellationToken);

        // Then
        window.Data.ToArray().ShouldBe("d\nef"u8.ToArray());
        window.LineAt(0).ShouldBe(2);
        window.LineAt(2).ShouldBe(3);
        window.Eof.ShouldBeTrue();
    }
}
