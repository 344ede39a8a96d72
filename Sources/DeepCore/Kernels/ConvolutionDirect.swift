import CVectorKernels

// Direct convolution of images with few input channels (CVectorKernels' DirectConvolution.c): with
// K = C·kH·kW small (a first layer on RGB or grey images), im2col writes a lowered matrix as
// large as the work and a GEMM of depth K packs it again; here each image is copied once (padded,
// rows split into column phases) and every vector of output positions is a sum over the K taps of
// an input vector times a broadcast weight, bias and ReLU applied as it is stored.

extension ConvolutionPlan {
    /// Input channels up to which a convolution may run directly.
    static let directChannelLimit = 4

    /// Whether the shape suits the direct kernels: ungrouped, undilated, at most
    /// ``directChannelLimit`` input channels, an output row at least one vector wide (no lanes
    /// wasted on short rows), and a CPU with the kernels.
    var fitsDirect: Bool {
        let g = geometry, width = VectorKernels.width
        return groups == 1 && g.dilationHeight == 1 && g.dilationWidth == 1 && g.channels <= Self.directChannelLimit
            && width > 0 && g.outputWidth >= width
    }

    /// The sizes the C kernels take.
    private var directGeometry: ds_direct_geometry {
        let g = geometry, paddedWidth = g.inputWidth + 2 * g.paddingWidth
        return ds_direct_geometry(
            channels: g.channels, inputHeight: g.inputHeight, inputWidth: g.inputWidth,
            paddingHeight: g.paddingHeight, paddingWidth: g.paddingWidth,
            paddedHeight: g.inputHeight + 2 * g.paddingHeight,
            rowLength: paddedWidth.ceilDivided(by: g.strideWidth) * g.strideWidth,
            strideHeight: g.strideHeight, strideWidth: g.strideWidth,
            kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, taps: g.loweredRows,
            outputChannels: outputChannels, outputHeight: g.outputHeight, outputWidth: g.outputWidth)
    }

    /// ``forward(x:weight:bias:into:weightCache:epilogue:)`` by the direct kernels: whole images
    /// to the threads, or, for fewer images than threads, each image's output rows split among
    /// them. A ReLU alone is applied as the kernel stores; a residual in a pass after it.
    func directForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                       into y: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue) {
        var d = directGeometry
        let perPanel = Int(ds_direct_channels_per_panel())
        let packed = TensorStorage(uninitializedCount: outputChannels.ceilDivided(by: perPanel) * perPanel * d.taps)
        ds_direct_pack_weight(weight, &d, packed.pointer)
        var offsets = [Int](repeating: 0, count: d.taps)
        ds_direct_offsets(&d, &offsets)
        let relu: Int32 = epilogue.residual == nil && epilogue.clampsAtZero ? 1 : 0
        let imageInput = ds_direct_input_count(&d)
        let workers = Parallel.workers(items: Int.max, work: work)
        let byImage = batch >= workers
        let scratch = TensorStorage(uninitializedCount: (byImage ? workers : 1) * imageInput)
        func run(image n: Int, prepared: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            _ = ds_direct_convolution(prepared, &d, offsets, packed.pointer, bias, relu, y + n * outputImage,
                                      rows.lowerBound, rows.upperBound)
        }
        if byImage {
            Parallel.forEachChunk(count: batch, chunks: imageChunks(accumulator: 0), workers: workers) { worker, _, images in
                let prepared = scratch.pointer + worker * imageInput
                for n in images {
                    ds_direct_prepare_input(x + n * inputImage, &d, prepared)
                    run(image: n, prepared: prepared, rows: 0..<d.outputHeight)
                }
            }
        } else {
            for n in 0..<batch {
                ds_direct_prepare_input(x + n * inputImage, &d, scratch.pointer)
                Parallel.forEachChunk(count: d.outputHeight, chunks: workers, workers: workers) { _, _, rows in
                    run(image: n, prepared: scratch.pointer, rows: rows)
                }
            }
        }
        if relu == 0 { epilogue.apply(to: y, count: batch * outputImage, outputOffset: 0) }
    }
}
