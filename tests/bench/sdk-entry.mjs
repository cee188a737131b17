// Bundled by esbuild into the benchmark page: the Azure SDK's browser upload, as a baseline.
import { BlockBlobClient } from '@azure/storage-blob';

/** Uploads files[i] to urls[i], `concurrency` files at a time, each with uploadData defaults. */
window.sdkUploadFiles = async (urls, files, concurrency) => {
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      await new BlockBlobClient(urls[i]).uploadData(files[i]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
};

/** One file with the SDK's default settings (4 MiB blocks, 5 in flight for big files). */
window.sdkUploadOne = async (url, file) => { await new BlockBlobClient(url).uploadData(file); };
